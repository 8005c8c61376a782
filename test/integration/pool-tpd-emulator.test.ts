import { afterEach, describe, expect, it } from "vitest";
import { countCallsByRegion, makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";
import { quotaEnv } from "../support/quota-load.ts";

// A pool's tpd over the wire: one worker, two pools, against the Bedrock emulator, which keeps a
// day's tokens per Region and answers "Too many tokens per day" past it. us-east-1's day is
// small; labelq stops sending it calls before the emulator would refuse one, and us-west-2 carries on.

/** us-east-1's day as labelq is told it, and (a little larger) as the emulator keeps it. */
const POOL_TPD = 60_000;
const EMULATOR_TPD = 72_000;
const POOLS = JSON.stringify([
  { region: "us-east-1", tpd: POOL_TPD },
  { region: "us-west-2", tpd: 100_000_000 },
]);

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

describe("a pool's tokens per day against the emulator", () => {
  it("sends a pool no call once its day cannot take one, never meets Bedrock's daily throttle, and labels every batch in the other pool", async () => {
    pipeline = await startPipeline({
      emulator: { quota: { rpm: 10_000, tpm: 100_000_000, windowSeconds: 10, byRegion: { "us-east-1": { tpd: EMULATOR_TPD } } }, latency: { fixedMs: 5, perOutputTokenMs: 0 } },
      env: quotaEnv({ AWS_REGION: "us-east-1", LABELQ_QUOTA_RPM: "10000", LABELQ_POOLS: POOLS, LABELQ_CONCURRENCY: "2" }),
    });
    const counts = countCallsByRegion(pipeline, ["us-east-1", "us-west-2"]);
    pipeline.startWorker();
    const batches = 24;
    for (let i = 0; i < batches; i++) await pipeline.send(makeRequest(2));
    const results = await pipeline.results(batches, 90_000);
    expect(results).toHaveLength(batches);
    expect(results.every((r) => r.status === "completed")).toBe(true);
    const stats = pipeline.emulator.stats();
    console.log(`pool tpd: ${stats.calls} calls (${JSON.stringify(counts)}), ${stats.throttled} throttled`);
    // us-east-1 took calls until its day was spent, and never one its day could not take.
    expect(counts["us-east-1"]).toBeGreaterThan(0);
    expect(counts["us-west-2"]).toBeGreaterThan(counts["us-east-1"]!);
    expect(stats.throttled).toBe(0);
  });
});
