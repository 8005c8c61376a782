import { ModelCallError } from "../errors/errors.ts";

/**
 * labelq's one retry policy for model calls. Two layers, never multiplied:
 *  1. within a batch: a throttled, unavailable or timed-out call is tried again up to
 *     `maxAttempts` times with jittered exponential backoff (the service's retry-after wins),
 *     while the batch's retry budget lasts; the SDK itself makes one attempt per call;
 *  2. across deliveries: a batch that still fails goes back to its queue with a visibility
 *     delay growing with its receive count (src/app/worker/retry-delay.ts), and the queue's
 *     redrive policy moves it to the DLQ after maxReceiveCount.
 * Which errors are retryable is decided where they are made (ModelCallError.retryable).
 */
export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 500, maxDelayMs: 20_000 };

/** Time a batch may spend waiting between attempts, shared by all its calls. */
export class RetryBudget {
  #leftMs: number;
  constructor(ms: number) {
    this.#leftMs = ms;
  }
  /** Take `ms` from the budget; false when it would overdraw it. */
  take(ms: number): boolean {
    if (ms > this.#leftMs) return false;
    this.#leftMs -= ms;
    return true;
  }
}

/** Delay before attempt `attempt + 1`, or undefined when the error or the attempt count says stop. */
export function nextRetryDelayMs(error: unknown, attempt: number, policy: RetryPolicy, random: () => number = Math.random): number | undefined {
  if (!(error instanceof ModelCallError) || !error.retryable || attempt >= policy.maxAttempts) return undefined;
  // A spent daily quota comes back at its reset, hours away: the batch moves on (fallback or queue).
  if (error.code === "MODEL_QUOTA_EXHAUSTED") return undefined;
  if (error.retryAfterSeconds !== undefined) return error.retryAfterSeconds * 1000;
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  // Full jitter: a fleet throttled at the same moment does not come back at the same moment.
  return Math.round(random() * cap);
}
