/** Attempts at a batch call whose unprocessed remainder keeps coming back (throttled partitions). */
const MAX_ATTEMPTS = 6;

/**
 * Run a DynamoDB batch call and re-send what it reports as unprocessed, with jittered
 * exponential backoff, as AWS asks. `call` returns the request for the remainder, or undefined.
 */
export async function withUnprocessedRetries<R>(first: R, call: (request: R) => Promise<R | undefined>, baseDelayMs = 50): Promise<void> {
  let request: R | undefined = first;
  for (let attempt = 1; request !== undefined; attempt++) {
    if (attempt > MAX_ATTEMPTS) throw new Error(`DynamoDB left items unprocessed after ${MAX_ATTEMPTS} attempts`);
    if (attempt > 1) await new Promise((r) => setTimeout(r, baseDelayMs * 2 ** (attempt - 2) * (0.5 + Math.random() / 2)));
    request = await call(request);
  }
}
