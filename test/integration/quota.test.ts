import { afterEach, describe, expect, it } from "vitest";
import { makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";
import { QUOTA, quotaEnv } from "../support/quota-load.ts";

// The fleet of worker processes sharing a Redis limiter is in quota-fleet.test.ts.

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

describe("running at the quota, not over it", () => {
  it("labels a sustained overload (3x the quota) with zero failed batches and few throttled calls", async () => {
    pipeline = await startPipeline({ emulator: { quota: QUOTA, latency: { fixedMs: 50, perOutputTokenMs: 0 } }, env: quotaEnv() });
    pipeline.startWorker();
    // 20 s of quota is 40 calls; 60 batches of one call each is 3x that over 20 s.
    const requests = Array.from({ length: 60 }, () => makeRequest(2));
    for (const r of requests) await pipeline.send(r);
    const results = await pipeline.results(60, 90_000);
    expect(results).toHaveLength(60);
    expect(results.every((r) => r.status === "completed")).toBe(true);
    expect(await pipeline.drain(pipeline.queues.dlq, 1, 500)).toHaveLength(0);
    const stats = pipeline.emulator.stats();
    const throttledShare = stats.throttled / stats.calls;
    console.log(`overload, local limiter: ${stats.calls} calls, ${stats.throttled} throttled (${(100 * throttledShare).toFixed(1)}%)`);
    expect(throttledShare).toBeLessThan(0.05);
  });
});
