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
