/** One model call as the limiter weighs it. */
export interface ModelCall {
  /** Model alias: quotas are per model (and region). */
  model: string;
  /** Estimated input + output tokens, for the tokens-per-minute quota. */
  tokens: number;
}

/** How a call went, so the limiter can adapt: a throttle lowers the rate, successes raise it slowly. */
export type CallFeedback = { throttled: false; actualTokens: number } | { throttled: true; retryAfterSeconds?: number };

/** Shares the model quota between concurrent calls and, in fleet mode, between worker processes. */
export interface RateLimiter {
  /** Run `task` when the model's quota allows. */
  schedule<T>(call: ModelCall, task: () => Promise<T>): Promise<T>;
  /** Report the outcome of a scheduled call. */
  report(call: ModelCall, feedback: CallFeedback): void;
  /** Calls waiting for a slot, all models. */
  queued(): number;
  /** Current share of each model's configured quota (1 = the full quota), for metrics. */
  rateFactors(): Record<string, number>;
  /** Stop accepting work and release connections. */
  close(): Promise<void>;
}
