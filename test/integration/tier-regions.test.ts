import type { ConverseCommandInput } from "@aws-sdk/client-bedrock-runtime";
import { afterEach, describe, expect, it } from "vitest";
import { makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";
import { quotaEnv } from "../support/quota-load.ts";

// Service tiers by Region over the wire: one worker, two quota pools, against the strict Bedrock
// emulator (a test double), which serves Qwen3 32B's flex and priority only in the Regions the
// service-tiers page lists (us-east-1 is one, us-west-1 is not) and answers ValidationException
// elsewhere, by the Region of each request's SigV4 scope (docs/bedrock-fidelity.md row 15).

const REGIONS = ["us-east-1", "us-west-1"] as const;

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

/** The serviceTier of every call each Region's client sends (read in the SDK's own middleware, once per call). */
function tiersByRegion(p: Pipeline): Record<string, (string | undefined)[]> {
  const sent: Record<string, (string | undefined)[]> = Object.fromEntries(REGIONS.map((r) => [r, []]));
  for (const region of REGIONS) {
    p.clients.bedrockIn(region).middlewareStack.add(
      (next) => (args) => {
        sent[region]!.push((args.input as ConverseCommandInput).serviceTier?.type);
        return next(args);
      },
      { step: "initialize", name: `tier-${region}` },
    );
  }
  return sent;
}

async function start(pools: string): Promise<Pipeline> {
  return startPipeline({
    emulator: { latency: { fixedMs: 20, perOutputTokenMs: 0 } },
    env: quotaEnv({ AWS_REGION: "us-east-1", LABELQ_QUOTA_RPM: "600", LABELQ_POOLS: pools, LABELQ_DEFAULT_MODEL: "qwen3-32b", LABELQ_MODEL_MAX_ATTEMPTS: "1" }),
  });
}

/** Run `batches` requests through one worker; every one must come back, none in the DLQ. */
async function runBatches(p: Pipeline, batches: number, overrides: Parameters<typeof makeRequest>[1] = {}) {
  p.startWorker();
  for (let i = 0; i < batches; i++) await p.send(makeRequest(2, overrides));
  const results = await p.results(batches);
  expect(await p.messagesOn(p.queues.dlq)).toBe(0);
  return results;
}

describe("service tiers in pools of a Region with tiers and one without", () => {
  it("sends a producer's flex as flex in us-east-1 and as default in us-west-1, no ValidationException, none dead-lettered", async () => {
    pipeline = await start('[{"region":"us-east-1"},{"region":"us-west-1"}]');
    const sent = tiersByRegion(pipeline);
    const batches = 12;
    const results = await runBatches(pipeline, batches, { tier: "flex" });
    expect(results).toHaveLength(batches);
    expect(results.every((r) => r.status === "completed")).toBe(true);
    const stats = pipeline.emulator.stats();
    console.log(`tier regions, request flex: ${JSON.stringify(sent)}, errors ${JSON.stringify(stats.errors)}`);
    expect(stats.errors.ValidationException ?? 0).toBe(0);
    // Both pools carried calls (most headroom first shares them), each on its Region's tier.
    expect(sent["us-east-1"]!.length).toBeGreaterThan(0);
    expect(sent["us-west-1"]!.length).toBeGreaterThan(0);
    expect(new Set(sent["us-east-1"])).toEqual(new Set(["flex"]));
    expect(new Set(sent["us-west-1"])).toEqual(new Set(["default"]));
    // The producer asked for flex: each call sent on default instead is a tier fallback.
    const fallbacks = results.reduce((n, r) => n + (r.usage.tierFallbacks ?? 0), 0);
    expect(fallbacks).toBe(sent["us-west-1"]!.length);
  });

  it("applies the pools' flex tier only in us-east-1, the us-west-1 calls sent with none and served default", async () => {
    pipeline = await start('[{"region":"us-east-1","tier":"flex"},{"region":"us-west-1","tier":"flex"}]');
    const sent = tiersByRegion(pipeline);
    const batches = 12;
    const results = await runBatches(pipeline, batches);
    expect(results.every((r) => r.status === "completed")).toBe(true);
    expect(pipeline.emulator.stats().errors.ValidationException ?? 0).toBe(0);
    expect(sent["us-east-1"]!.length).toBeGreaterThan(0);
    expect(sent["us-west-1"]!.length).toBeGreaterThan(0);
    expect(new Set(sent["us-east-1"])).toEqual(new Set(["flex"]));
    expect(new Set(sent["us-west-1"])).toEqual(new Set([undefined]));
    // A pool's tier is no producer's wish: dropping it is no fallback.
    expect(results.every((r) => (r.usage.tierFallbacks ?? 0) === 0)).toBe(true);
    const flexCalls = results.reduce((n, r) => n + (r.usage.tiers?.flex?.modelCalls ?? 0), 0);
    expect(flexCalls).toBe(sent["us-east-1"]!.length);
  });
});
