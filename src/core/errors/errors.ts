/**
 * Every error labelq raises on purpose. The code says what went wrong; `retryable` says
 * whether trying the same work again later can help, and is decided here, where the
 * error is made, never by the code that catches it.
 */
export type ErrorCode =
  | "CONFIG_INVALID"
  | "INVALID_REQUEST"
  | "REPLY_TO_NOT_ALLOWED"
  | "TAXONOMY_INVALID"
  | "TAXONOMY_NOT_FOUND"
  | "PROMPT_VERSION_NOT_FOUND"
  | "PROMPT_TEMPLATE_INVALID"
  | "MODEL_NOT_ALLOWED"
  | "TIER_NOT_OFFERED"
  | "MODEL_THROTTLED"
  | "MODEL_QUOTA_EXHAUSTED"
  | "MODEL_UNAVAILABLE"
  | "MODEL_TIMEOUT"
  | "MODEL_REJECTED_REQUEST"
  | "MODEL_ERROR"
  | "QUEUE_ERROR"
  | "BATCH_ID_CONFLICT"
  | "STORE_UNAVAILABLE"
  | "TABLE_SETUP_FAILED"
  | "LEASE_LOST"
  | "SHUTTING_DOWN"
  | "RECEIVES_EXHAUSTED"
  | "GOLD_SET_INVALID"
  | "WORKER_CANNOT_START"
  | "UNEXPECTED_ERROR";

export class LabelqError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, retryable: boolean, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.retryable = retryable;
  }
}

/** A configuration value is missing or invalid; `issues` name each variable and what it allows. */
export class ConfigError extends LabelqError {
  readonly issues: string[];
  constructor(issues: string[], options?: ErrorOptions) {
    super("CONFIG_INVALID", `Invalid configuration:\n  - ${issues.join("\n  - ")}`, false, options);
    this.issues = issues;
  }
}

/** A request message that can never succeed as sent: it goes to the DLQ at once. */
export class InvalidRequestError extends LabelqError {
  readonly issues: string[];
  constructor(message: string, issues: string[] = [], code: ErrorCode = "INVALID_REQUEST") {
    super(code, message, false);
    this.issues = issues;
  }
}

/** A taxonomy file that fails its schema; the message names the file and the dimension. */
export class TaxonomyError extends LabelqError {
  constructor(code: "TAXONOMY_INVALID" | "TAXONOMY_NOT_FOUND" | "PROMPT_VERSION_NOT_FOUND", message: string, options?: ErrorOptions) {
    super(code, message, false, options);
  }
}

/** A gold set (evaluation data) that does not fit its taxonomy; `issues` name the line, the dimension and what is allowed. */
export class GoldSetError extends LabelqError {
  readonly issues: string[];
  constructor(message: string, issues: string[] = []) {
    super("GOLD_SET_INVALID", issues.length === 0 ? message : `${message}:\n  - ${issues.join("\n  - ")}`, false);
    this.issues = issues;
  }
}

/** A prompt template that cannot be rendered (an unknown placeholder): fixing the file is the only cure. */
export class PromptTemplateError extends LabelqError {
  constructor(message: string) {
    super("PROMPT_TEMPLATE_INVALID", message, false);
  }
}

/**
 * The model call failed. Throttling, unavailability and timeouts are retryable; a rejected
 * request is not. MODEL_QUOTA_EXHAUSTED (the model's daily token quota) is retryable only
 * after `resetsAt`: skip the model until then.
 */
export class ModelCallError extends LabelqError {
  readonly modelId: string;
  /** Seconds the service asked us to wait (retry-after), when it said so. */
  readonly retryAfterSeconds: number | undefined;
  /** MODEL_QUOTA_EXHAUSTED: when the model's daily quota is expected back (epoch ms); retrying sooner cannot help. */
  readonly resetsAt: number | undefined;
  /**
   * MODEL_THROTTLED of a call sent on the flex tier: the service shed it (flex is served after
   * the other tiers under load). The retry loop may send the next attempt on another tier
   * (tierAfterShed in src/core/models/service-tiers.ts).
   */
  readonly shedTier: "flex" | undefined;
  constructor(
    code: "MODEL_THROTTLED" | "MODEL_QUOTA_EXHAUSTED" | "MODEL_UNAVAILABLE" | "MODEL_TIMEOUT" | "MODEL_REJECTED_REQUEST" | "MODEL_ERROR",
    modelId: string,
    message: string,
    options?: ErrorOptions & { retryAfterSeconds?: number; resetsAt?: number; shedTier?: "flex" },
  ) {
    super(code, message, code !== "MODEL_REJECTED_REQUEST", options);
    this.modelId = modelId;
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.resetsAt = options?.resetsAt;
    this.shedTier = options?.shedTier;
  }
}

/** A DynamoDB call failed for a reason other than a condition; callers degrade rather than fail the batch. */
export class StoreError extends LabelqError {
  constructor(message: string, options?: ErrorOptions) {
    super("STORE_UNAVAILABLE", message, true, options);
  }
}

/** An SQS call failed (send, delete, change visibility). Retryable: the message stays on its queue. */
export class QueueError extends LabelqError {
  constructor(message: string, options?: ErrorOptions) {
    super("QUEUE_ERROR", message, true, options);
  }
}

/** Creating or waiting for a DynamoDB table failed; the message names the table. */
export class TableSetupError extends LabelqError {
  constructor(message: string, options?: ErrorOptions) {
    super("TABLE_SETUP_FAILED", message, false, options);
  }
}

/** Another worker took the batch's lease over (this one stalled past it); that worker finishes the batch. */
export class LeaseLostError extends LabelqError {
  constructor(batchId: string) {
    super("LEASE_LOST", `Lost the lease on batch ${batchId} to another worker`, true);
  }
}

/**
 * A worker's start-up check failed: no credentials, or a queue that does not exist, is not allowed
 * or cannot be reached. Not retryable by the worker itself: it exits, and says why in one line.
 */
export class WorkerStartError extends LabelqError {
  constructor(message: string, options?: ErrorOptions) {
    super("WORKER_CANNOT_START", message, false, options);
  }
}

/** The worker is stopping; the message goes back to the queue for another worker. */
export class ShuttingDownError extends LabelqError {
  constructor() {
    super("SHUTTING_DOWN", "The worker is shutting down; the message was returned to the queue", true);
  }
}

/**
 * A message on its last receive (its ApproximateReceiveCount has reached the requests queue's
 * maxReceiveCount) that did not finish: the Lambda handler dead-letters it with this reason
 * rather than return it, because the next receive would have the redrive policy move it to the
 * DLQ without one. Not retryable by labelq itself; an operator replays it once the cause is fixed.
 */
export class ReceivesExhaustedError extends LabelqError {
  readonly receiveCount: number;
  readonly maxReceiveCount: number;
  constructor(receiveCount: number, maxReceiveCount: number, why: string) {
    super("RECEIVES_EXHAUSTED", `Not done after ${receiveCount} receives, the requests queue's maxReceiveCount (${maxReceiveCount}): ${why}`, false);
    this.receiveCount = receiveCount;
    this.maxReceiveCount = maxReceiveCount;
  }
}

/**
 * An error labelq did not raise on purpose (a TypeError, a library's plain Error): a bug or a
 * case nobody foresaw. Not retryable: the same input would fail the same way, so the message
 * goes to the DLQ at once with this reason, for an operator to look at and replay.
 */
export class UnexpectedError extends LabelqError {
  constructor(cause: unknown) {
    const what = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super("UNEXPECTED_ERROR", `Unexpected error (${what})`, false, { cause });
  }
}

/** The one place that decides what an error is: labelq's own errors as they are, anything else as UnexpectedError. */
export function toLabelqError(error: unknown): LabelqError {
  return error instanceof LabelqError ? error : new UnexpectedError(error);
}

/** True when retrying the same work later may succeed (see toLabelqError). */
export function isRetryable(error: unknown): boolean {
  return toLabelqError(error).retryable;
}

/** The code of an error (see toLabelqError). */
export function errorCode(error: unknown): ErrorCode {
  return toLabelqError(error).code;
}
