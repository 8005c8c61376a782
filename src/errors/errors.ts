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
  | "MODEL_THROTTLED"
  | "MODEL_UNAVAILABLE"
  | "MODEL_TIMEOUT"
  | "MODEL_REJECTED_REQUEST"
  | "MODEL_ERROR"
  | "QUEUE_ERROR"
  | "BATCH_ID_CONFLICT"
  | "STORE_UNAVAILABLE"
  | "SHUTTING_DOWN"
  | "GOLD_SET_INVALID";

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
  constructor(issues: string[]) {
    super("CONFIG_INVALID", `Invalid configuration:\n  - ${issues.join("\n  - ")}`, false);
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

/** The model call failed. Throttling, unavailability and timeouts are retryable; a rejected request is not. */
export class ModelCallError extends LabelqError {
  readonly modelId: string;
  /** Seconds the service asked us to wait (retry-after), when it said so. */
  readonly retryAfterSeconds: number | undefined;
  constructor(
    code: "MODEL_THROTTLED" | "MODEL_UNAVAILABLE" | "MODEL_TIMEOUT" | "MODEL_REJECTED_REQUEST" | "MODEL_ERROR",
    modelId: string,
    message: string,
    options?: ErrorOptions & { retryAfterSeconds?: number },
  ) {
    super(code, message, code !== "MODEL_REJECTED_REQUEST", options);
    this.modelId = modelId;
    this.retryAfterSeconds = options?.retryAfterSeconds;
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

/** The worker is stopping; the message goes back to the queue for another worker. */
export class ShuttingDownError extends LabelqError {
  constructor() {
    super("SHUTTING_DOWN", "The worker is shutting down; the message was returned to the queue", true);
  }
}

/** True when retrying the same work later may succeed; unknown errors count as retryable so nothing is dropped. */
export function isRetryable(error: unknown): boolean {
  return error instanceof LabelqError ? error.retryable : true;
}

/** The code of a labelq error, or "INTERNAL" for anything else. */
export function errorCode(error: unknown): string {
  return error instanceof LabelqError ? error.code : "INTERNAL";
}
