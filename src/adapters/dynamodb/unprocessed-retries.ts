import pRetry from "p-retry";
import { StoreError } from "../../core/errors/errors.ts";

/** Attempts at a batch call whose unprocessed remainder keeps coming back (throttled partitions). */
const MAX_ATTEMPTS = 6;

/** Signals that a batch call left a remainder to send again; never leaves this module. */
class UnprocessedLeft extends Error {}

/**
 * Run a DynamoDB batch call and re-send what it reports as unprocessed, with jittered
 * exponential backoff, as AWS asks (p-retry does the backoff and honours `signal`). `call`
 * returns the request for the remainder, or undefined. A call that throws is not retried
 * here: the SDK has retried it already. Throws StoreError when a remainder is left after
 * the last attempt.
 */
export async function withUnprocessedRetries<R>(
  first: R,
  call: (request: R) => Promise<R | undefined>,
  options: { baseDelayMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  let request = first;
  try {
    await pRetry(
      async () => {
        const rest = await call(request);
        if (rest === undefined) return;
        request = rest;
        throw new UnprocessedLeft();
      },
      {
        retries: MAX_ATTEMPTS - 1,
        minTimeout: options.baseDelayMs ?? 50,
        factor: 2,
        randomize: true,
        signal: options.signal,
        shouldRetry: ({ error }) => error instanceof UnprocessedLeft,
      },
    );
  } catch (error) {
    if (error instanceof UnprocessedLeft) throw new StoreError(`DynamoDB left items unprocessed after ${MAX_ATTEMPTS} attempts`);
    throw error;
  }
}
