import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Logger } from "pino";
import { QueueError } from "../core/errors/errors.ts";

/** The maxReceiveCount of a queue's RedrivePolicy attribute (JSON), or undefined when it has none. */
export function maxReceiveCountOf(redrivePolicy: string | undefined): number | undefined {
  if (!redrivePolicy) return undefined;
  try {
    // SQS answers a number; a policy set by hand may hold it as a string ("5").
    const n = Number((JSON.parse(redrivePolicy) as { maxReceiveCount?: unknown }).maxReceiveCount);
    return Number.isInteger(n) && n >= 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Read a queue's redrive limit: its RedrivePolicy's maxReceiveCount, undefined without a policy. */
export async function readMaxReceiveCount(sqs: SQSClient, queueUrl: string): Promise<number | undefined> {
  try {
    const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["RedrivePolicy"] }));
    return maxReceiveCountOf(out.Attributes?.RedrivePolicy);
  } catch (cause) {
    throw new QueueError(`Could not read the redrive policy of ${queueUrl}`, { cause });
  }
}

/**
 * The requests queue's redrive limit, read from the queue itself once per execution environment
 * (sqs:GetQueueAttributes, which the worker policy and Lambda's SQS event source both need): it
 * is the number that decides when SQS moves a message to the DLQ, so no copy of it in the
 * configuration can disagree with the queue. A failed read is logged and tried again on the
 * next event; until then the limit is unknown and records are returned as they are.
 */
export class RedriveLimit {
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;
  readonly #log: Logger;
  #read: Promise<number | undefined> | undefined;

  constructor(sqs: SQSClient, queueUrl: string, log: Logger) {
    this.#sqs = sqs;
    this.#queueUrl = queueUrl;
    this.#log = log;
  }

  /** The queue's maxReceiveCount; undefined when it has no redrive policy or it could not be read. */
  get(): Promise<number | undefined> {
    this.#read ??= readMaxReceiveCount(this.#sqs, this.#queueUrl).then(
      (limit) => {
        if (limit === undefined) this.#log.info({ queueUrl: this.#queueUrl }, "the requests queue has no redrive policy: nothing moves its messages to the DLQ by receive count");
        return limit;
      },
      (error: unknown) => {
        this.#read = undefined;
        this.#log.error({ err: error }, "could not read the requests queue's redrive policy; a message on its last receive may reach the DLQ without labelq's reason");
        return undefined;
      },
    );
    return this.#read;
  }
}
