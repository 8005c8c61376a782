import type { Message, SQSClient } from "@aws-sdk/client-sqs";
import { EventEmitter } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { Consumer } from "sqs-consumer";
import type { MessageHandler, MessageOutcome } from "./message-handler.ts";
import { type Clock, systemClock } from "../../core/util/clock.ts";

export interface WorkerPoolOptions {
  queueUrl: string;
  /** Batches processed at once by this process. */
  concurrency: number;
  /** Visibility a receive gives a message; the handler extends it while the batch runs (MessageVisibility). */
  visibilityTimeoutS: number;
  waitTimeS: number;
  /** How long stop() lets in-flight batches finish before returning them to the queue. */
  shutdownTimeoutS: number;
  /** True when the SQS client has an explicit endpoint (emulators): use it instead of the queue URL's host. */
  useClientEndpoint: boolean;
  /** Awaited before each receive (the limiter's back-pressure); rejects when the signal aborts at stop. */
  beforeReceive?: (signal: AbortSignal) => Promise<void>;
}

/** Events of a pool, with their payloads. */
export interface WorkerPoolEvents {
  outcome: [message: Message, outcome: MessageOutcome];
  /** Not "error": an unhandled "error" event would throw from the consumer. */
  queue_error: [error: Error, message: Message | undefined];
  stopped: [];
}


/** First and longest wait after failed polls of the requests queue. */
const POLL_BACKOFF_BASE_MS = 1_000;
const POLL_BACKOFF_MAX_MS = 60_000;

/**
 * Wait after the `failures`-th failed poll in a row: doubling from 1 s up to 60 s, ±20 %, so a
 * fleet that lost the queue at the same moment does not come back at the same moment.
 */
export function pollBackoffMs(failures: number, random: () => number = Math.random): number {
  const exp = Math.min(POLL_BACKOFF_MAX_MS, POLL_BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(exp * (0.8 + 0.4 * random()));
}

interface InFlight {
  controller: AbortController;
  settled: Promise<void>;
  settle: () => void;
}

/**
 * Runs `concurrency` sqs-consumer instances, one message each. One Consumer finishes its
 * whole received batch before polling again, so one-message consumers avoid a slow batch
 * holding up others and make the configured concurrency real. The message handler, not
 * sqs-consumer's heartbeat, extends visibility while a batch runs: one owner, so nothing
 * overwrites a value the handler sets.
 */
export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly #options: WorkerPoolOptions;
  readonly #consumers: Consumer[];

  readonly #inflight = new Map<string, InFlight>();
  readonly #logger: Logger;
  readonly #clock: Clock;
  /** Failed polls in a row, counted once per backoff step however many consumers failed in it. */
  #pollFailures = 0;
  /** No consumer receives before this (clock ms): the one backoff for all of them. */
  #pollRetryAt = 0;
  #started = false;
  #stopping = false;
  /** The one stop in progress or done: every stop() call waits for it. */
  #closing: Promise<void> | undefined;
  #lastPollAt = Date.now();
  /** Aborted by stop(), so a receive waiting in beforeReceive gives up at once. */
  readonly #stopSignal = new AbortController();

  constructor(options: WorkerPoolOptions, sqs: SQSClient, handler: MessageHandler, logger: Logger, clock: Clock = systemClock) {
    super();
    this.#options = options;
    this.#logger = logger;
    this.#clock = clock;
    this.#consumers = Array.from({ length: options.concurrency }, () => {
      const consumer = Consumer.create({
        queueUrl: options.queueUrl,
        sqs,
        batchSize: 1,
        visibilityTimeout: options.visibilityTimeoutS,
        // No heartbeatInterval: the handler owns visibility (MessageVisibility). sqs-consumer's
        // heartbeat runs until the handler returns and would overwrite the handler's final value.
        waitTimeSeconds: options.waitTimeS,
        messageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
        messageAttributeNames: ["All"],
        useQueueUrlAsEndpoint: !options.useClientEndpoint,
        suppressFifoWarning: true,
        // Let stop() wait for an open long poll to end: aborting it client-side can leave the
        // server handing a message to a closed request, invisible until its visibility timeout.
        pollingCompleteWaitTimeMs: (options.waitTimeS + 5) * 1000,
        // sqs-consumer pauses after some poll errors (credentials, missing queue) and re-polls
        // at once after others (DNS, socket): the pool's own backoff (#gate) is the only one.
        authenticationErrorTimeout: 0,
        handleMessage: (message) => this.#handle(message, handler),
        preReceiveMessageCallback: () => this.#gate(options.beforeReceive),
      });
      consumer.on("message_processed", (m) => this.#settle(m));
      // A long poll that came back, empty or not: the poll loop is alive, and the queue answers.
      consumer.on("empty", () => this.#pollAnswered());
      consumer.on("response_processed", () => this.#pollAnswered());
      consumer.on("error", (error, m) => {
        const message = Array.isArray(m) ? m[0] : m;
        if (message) this.#settle(message);
        // A failed poll still shows the loop is alive (the queue may not be).
        if (!message) this.#lastPollAt = Date.now();
        // The long poll cut short by stop() is expected, not an error.
        if (this.#stopping && !message) return;
        if (message) this.#logger.error({ err: error, messageId: message.MessageId }, "queue error");
        else this.#pollFailed(error);
        this.emit("queue_error", error, message);
      });
      consumer.on("processing_error", (error, m) => {
        this.#settle(m);
        this.#logger.error({ err: error, messageId: m.MessageId }, "message handler failed; the message stays on the queue");
        this.emit("queue_error", error, m);
      });
      return consumer;
    });
  }

  /**
   * One warning per backoff step: the consumers' polls that fail together count once (the first
   * that fails after the last step's wait ended), the stack only at debug.
   */
  #pollFailed(error: Error): void {
    this.#logger.debug({ err: error }, "poll of the requests queue failed");
    const now = this.#clock.now();
    if (now < this.#pollRetryAt) return;
    this.#pollFailures += 1;
    const delayMs = pollBackoffMs(this.#pollFailures);
    this.#pollRetryAt = now + delayMs;
    const retryInS = Math.round(delayMs / 100) / 10;
    const code = (error as Error & { code?: string }).code ?? error.name;
    const firstLine = error.message.split("\n", 1)[0];
    this.#logger.warn(
      { queue: this.#options.queueUrl, code, failures: this.#pollFailures, retryInS },
      `polling the requests queue failed: ${firstLine}; retrying in ${retryInS} s`,
    );
  }

  #pollAnswered(): void {
    this.#lastPollAt = Date.now();
    if (this.#pollFailures === 0) return;
    this.#logger.info({ queue: this.#options.queueUrl, failures: this.#pollFailures }, `polling recovered after ${this.#pollFailures} failures`);
    this.#pollFailures = 0;
    this.#pollRetryAt = 0;
  }

  /**
   * Before each receive: wait out the poll backoff, then the receive gate (the limiter). The poll
   * loop counts as alive meanwhile: waiting for the queue or for quota is not a hang. Both waits
   * end at once when stop() aborts.
   */
  async #gate(beforeReceive: WorkerPoolOptions["beforeReceive"]): Promise<void> {
    const waitMs = this.#pollRetryAt - this.#clock.now();
    if (waitMs <= 0 && !beforeReceive) return;
    const alive = setInterval(() => (this.#lastPollAt = Date.now()), 5_000);
    try {
      if (waitMs > 0) await this.#clock.sleep(waitMs, this.#stopSignal.signal);
      await beforeReceive?.(this.#stopSignal.signal);
    } finally {
      clearInterval(alive);
    }
  }

  /** Start polling. Idempotent; a stopped pool stays stopped. */
  start(): void {
    if (this.#started || this.#stopping) return;
    this.#started = true;
    for (const c of this.#consumers) c.start();
  }

  /** Messages being worked on right now. */
  inFlight(): number {
    return this.#inflight.size;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** When a long poll last came back (epoch ms). */
  get lastPollAt(): number {
    return this.#lastPollAt;
  }

  /**
   * Stop polling, let in-flight batches finish for up to shutdownTimeoutS, then abort the
   * rest, whose messages are made visible again at once for other workers. Every call
   * returns the same promise, which settles when the pool is drained.
   */
  stop(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stopping = true;
    this.#stopSignal.abort();
    // sqs-consumer emits "stopped" only for a consumer that was running.
    const running = this.#consumers.filter((c) => c.status.isRunning);
    const pollsEnded = Promise.all(running.map((c) => new Promise<void>((resolve) => c.once("stopped", () => resolve()))));
    for (const c of running) c.stop();
    if ((await this.#drainWithin(this.#options.shutdownTimeoutS * 1000)) === "timeout") {
      this.#logger.warn({ inFlight: this.#inflight.size }, "shutdown deadline reached: returning unfinished messages to the queue");
      this.#abortInFlight();
    }
    // A poll that was open when stop() began may still deliver a message: it is returned at once.
    await pollsEnded;
    this.#abortInFlight();
    await this.#drain();
    this.emit("stopped");
  }

  /** Wait for in-flight batches to finish, or for the deadline, whichever comes first. */
  async #drainWithin(ms: number): Promise<"drained" | "timeout"> {
    const deadline = new AbortController();
    try {
      return await Promise.race([this.#drain().then(() => "drained" as const), sleep(ms, "timeout" as const, { signal: deadline.signal, ref: false })]);
    } finally {
      deadline.abort();
    }
  }

  #abortInFlight(): void {
    for (const f of this.#inflight.values()) f.controller.abort();
  }

  async #drain(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight.values()].map((f) => f.settled));
  }

  async #handle(message: Message, handler: MessageHandler): Promise<Message | undefined> {
    const id = message.MessageId ?? "";
    const { promise: settled, resolve: settle } = Promise.withResolvers<void>();
    const controller = new AbortController();
    this.#inflight.set(id, { controller, settled, settle });
    // A message received by a poll that was already under way when stop() began.
    if (this.#stopping) controller.abort();
    const { ack, outcome } = await handler(message, controller.signal);
    this.emit("outcome", message, outcome);
    if (!ack) this.#settle(message);
    return ack ? message : undefined;
  }

  #settle(message: Message): void {
    const f = this.#inflight.get(message.MessageId ?? "");
    if (!f) return;
    this.#inflight.delete(message.MessageId ?? "");
    f.settle();
  }
}
