/** Shares the model quota between concurrent calls (and, in fleet mode, between worker processes). */
export interface RateLimiter {
  /** Run `task` when the limiter allows; `weight` is the call's estimated token count. */
  schedule<T>(weight: number, task: () => Promise<T>): Promise<T>;
  /** Number of calls waiting for a slot. */
  queued(): number;
  /** Stop accepting work and release connections. */
  close(): Promise<void>;
}
