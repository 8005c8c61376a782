/**
 * Wait for every promise to settle, then throw the first failure (in input order) or return
 * the values in input order. Unlike Promise.all, nothing is still running when it throws: no
 * chunk is still calling the model or writing the cache after its batch failed.
 */
export async function settleAll<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failure = settled.find((s) => s.status === "rejected");
  if (failure) throw failure.reason;
  return settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
}
