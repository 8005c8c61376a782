import type { Message, SQSClient } from "@aws-sdk/client-sqs";
import type { Logger } from "pino";
import { changeVisibility } from "../../adapters/sqs/sqs-messages.ts";

/** Keep a message hidden while it is worked on: every `everyS`, set its visibility to `timeoutS` from now. */
export interface VisibilityRenewal {
  timeoutS: number;
  everyS: number;
}

/**
 * The one owner of a received message's visibility while the handler holds it. It extends the
 * visibility while the work runs, and sets the final value (a hold until a quota reset, 0 to hand
 * the message back, a backoff) only once renewal has stopped and its last extension has come
 * back, so no extension lands after the final value. sqs-consumer's heartbeat would race it: it
 * re-sets the visibility until the handler has returned, whatever the handler set last.
 */
export class MessageVisibility {
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;
  readonly #message: Message;
  readonly #log: Logger;
  readonly #timer: NodeJS.Timeout | undefined;
  /** The extension under way, if any; extensions run one after another, never two at once. */
  #extending: Promise<void> = Promise.resolve();
  #released = false;

  constructor(sqs: SQSClient, queueUrl: string, message: Message, renewal: VisibilityRenewal | undefined, log: Logger) {
    this.#sqs = sqs;
    this.#queueUrl = queueUrl;
    this.#message = message;
    this.#log = log;
    if (renewal) this.#timer = setInterval(() => this.#extend(renewal.timeoutS), renewal.everyS * 1000);
  }

  /** Stop renewing, then set the message's visibility to `seconds` from now (its final value). */
  async set(seconds: number): Promise<void> {
    await this.release();
    await changeVisibility(this.#sqs, this.#queueUrl, this.#message, seconds);
  }

  /** Stop renewing and wait for an extension under way: the message's fate is decided. */
  async release(): Promise<void> {
    this.#released = true;
    clearInterval(this.#timer);
    await this.#extending;
  }

  #extend(timeoutS: number): void {
    this.#extending = this.#extending.then(async () => {
      if (this.#released) return;
      try {
        await changeVisibility(this.#sqs, this.#queueUrl, this.#message, timeoutS);
      } catch (error) {
        this.#log.warn({ err: error }, "could not extend the message's visibility");
      }
    });
  }
}
