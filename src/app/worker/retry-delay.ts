/** Longest delay before a retried message is seen again; SQS allows up to 12 h, a quarter hour keeps work flowing. */
export const MAX_RETRY_DELAY_S = 900;

/**
 * Visibility delay before a message that failed for a retryable reason is tried again:
 * exponential in its receive count, with jitter so a fleet's retries do not arrive together.
 * `random` is injectable for tests.
 */
export function retryDelaySeconds(receiveCount: number, baseSeconds: number, random: () => number = Math.random): number {
  const exp = Math.min(MAX_RETRY_DELAY_S, baseSeconds * 2 ** Math.max(0, receiveCount - 1));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

/**
 * SQS's longest visibility timeout, 12 h, counted from when the message was received:
 * ChangeMessageVisibility rejects a timeout that would end later than that (API reference,
 * ChangeMessageVisibility).
 */
export const MAX_VISIBILITY_S = 43_200;

/** Seconds kept clear of that edge: the handler's receive time is a little later than SQS's. */
export const VISIBILITY_MARGIN_S = 5;

/**
 * Visibility delay for a message whose batch found every allowed model's daily quota spent:
 * until the quota resets (`resetsAt`, epoch ms), at least `backoffSeconds`, and never past
 * SQS's 12 h from the receive, `elapsedSeconds` ago.
 */
export function quotaHoldSeconds(resetsAt: number | undefined, now: number, elapsedSeconds: number, backoffSeconds: number): number {
  const untilReset = resetsAt === undefined ? 0 : Math.ceil((resetsAt - now) / 1000);
  const longest = Math.max(0, MAX_VISIBILITY_S - VISIBILITY_MARGIN_S - Math.ceil(Math.max(0, elapsedSeconds)));
  return Math.min(longest, Math.max(backoffSeconds, untilReset));
}
