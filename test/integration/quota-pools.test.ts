import { afterEach, describe, expect, it } from "vitest";
import { countCallsByRegion, makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";
import { quotaEnv } from "../support/quota-load.ts";

// Quota pools over the wire: one worker, two pools in two Regions, against the Bedrock emulator,
// which keeps one quota window per Region from each request's SigV4 scope and answers 503 for a
// Region listed as down. Calls are counted per Region at the SDK client each pool signs with.

const WINDOW_S = 10;
/** Each Region's quota: 60 rpm, that is 10 calls per 10 s window. */
const RPM = 60;
const POOLS = '[{"region":"us-east-1"},{"region":"us-west-2"}]';

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

async function start(emulator: { unavailableRegions?: string[] } = {}): Promise<Pipeline> {
  return startPipeline({
    emulator: { quota: { rpm: RPM, tpm: 10_000_000, windowSeconds: WINDOW_S }, latency: { fixedMs: 20, perOutputTokenMs: 0 }, ...emulator },
    env: quotaEnv({ AWS_REGION: "us-east-1", LABELQ_QUOTA_RPM: String(RPM), LABELQ_POOLS: POOLS, LABELQ_BREAKER_THRESHOLD: "50" }),
  });
}

describe("quota pools in two Regions", () => {
  it("spreads the calls over both Regions' quotas, none throttled", async () => {
    pipeline = await start();
    const counts = countCallsByRegion(pipeline, ["us-east-1", "us-west-2"]);
    pipeline.startWorker();
    // 30 calls: three windows of one Region's quota, one and a half of the two together.
    const batches = 30;
    for (let i = 0; i < batches; i++) await pipeline.send(makeRequest(2));
    const results = await pipeline.results(batches, 90_000);
    expect(results).toHaveLength(batches);
    expect(results.every((r) => r.status === "completed")).toBe(true);
    const stats = pipeline.emulator.stats();
    console.log(`two pools: ${stats.calls} calls (${JSON.stringify(counts)}), ${stats.throttled} throttled`);
    // The limiter keeps each pool's window; a loaded machine's event-loop lag can still let an
    // odd call reach the emulator's window first (as in quota.test.ts), never many.
    expect(stats.throttled / stats.calls).toBeLessThan(0.1);
    expect(counts["us-east-1"]! + counts["us-west-2"]!).toBe(stats.calls);
    // Most headroom first: neither Region carries much more than the other.
    expect(counts["us-east-1"]).toBeGreaterThanOrEqual(batches / 3);
    expect(counts["us-west-2"]).toBeGreaterThanOrEqual(batches / 3);
  });

  it("carries on in the other Region while one is down, the down pool out of service", async () => {
    pipeline = await start({ unavailableRegions: ["us-west-2"] });
    const counts = countCallsByRegion(pipeline, ["us-east-1", "us-west-2"]);
    const worker = pipeline.startWorker();
    const batches = 12;
    for (let i = 0; i < batches; i++) await pipeline.send(makeRequest(2));
    const results = await pipeline.results(batches, 90_000);
    expect(results).toHaveLength(batches);
    expect(results.every((r) => r.status === "completed")).toBe(true);
    const stats = pipeline.emulator.stats();
    console.log(`one Region down: ${stats.calls} calls (${JSON.stringify(counts)}), ${stats.errors.ServiceUnavailableException ?? 0} unavailable`);
    expect(stats.throttled / stats.calls).toBeLessThan(0.1);
    expect(stats.succeeded).toBe(counts["us-east-1"]! - stats.throttled);
    // The down Region was tried and taken out at its first failures, not once per batch.
    expect(counts["us-west-2"]).toBeGreaterThan(0);
    expect(counts["us-west-2"]).toBeLessThan(batches / 2);
    expect(stats.errors.ServiceUnavailableException).toBe(counts["us-west-2"]);
    const gauge = await worker.metrics.poolAvailable.get();
    const byPool = Object.fromEntries(gauge.values.map((v) => [String(v.labels.pool), v.value]));
    expect(byPool).toEqual({ "us-east-1": 1, "us-west-2": 0 });
  });
});
