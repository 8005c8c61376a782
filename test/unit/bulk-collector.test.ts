import { beforeAll, describe, expect, it } from "vitest";
import type { BulkContext } from "../../src/app/bulk/bulk-context.ts";
import { BulkLoop } from "../../src/app/bulk/bulk-loop.ts";
import { labelBatch } from "../../src/core/classify/label-batch.ts";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { BULK_SETTINGS, FakeBulkStore, FakeJobControl, FakeObjectStore, FakeOutbox, bulkPathSettings } from "../support/bulk-fakes.ts";
import { FakeIdempotencyStore, FakeLabelCache, FakeModelProvider, PassThroughLimiter, PROMPTS_DIR, silentLogger, validCompactLabels } from "../support/fakes.ts";
import { until } from "../support/until.ts";
import { FakeClock } from "./fake-clock.ts";

const prompts = new PromptRegistry(PROMPTS_DIR);
let prompt: ResolvedPrompt;
beforeAll(async () => {
  prompt = await prompts.resolve("product-feedback", "prod");
});

function request(batchId: string, n: number): LabelRequest {
  return { schemaVersion: 1, batchId, items: Array.from({ length: n }, (_, k) => ({ id: `t${k + 1}`, text: `text ${batchId} number ${k + 1}` })) };
}

/** The bulk loop's context on fakes, every time in it (steps, records, intakes) read from one fake clock. */
function setup(clock: FakeClock, options: { minRecords?: number; gatherS?: number } = {}) {
  const store = new FakeBulkStore();
  store.now = () => clock.now();
  const objects = new FakeObjectStore();
  const provider = () => new FakeModelProvider({ labeller: (t) => validCompactLabels(prompt.taxonomy, t), usage: { inputTokens: 2000, outputTokens: 400 } });
  const control = new FakeJobControl(objects, provider());
  const outbox = new FakeOutbox();
  const logger = silentLogger();
  const deps = { prompts, limiter: new PassThroughLimiter(), provider: provider(), logger };
  const ctx = (owner: string): BulkContext => ({
    store,
    objects,
    control,
    prompts,
    settings: BULK_SETTINGS,
    bulk: bulkPathSettings({ gatherS: options.gatherS ?? 0, limits: { minRecords: options.minRecords ?? 1 } }),
    outbox,
    idempotency: new FakeIdempotencyStore(),
    cache: new FakeLabelCache(),
    label: (r, at, signal) => labelBatch(r, at, BULK_SETTINGS, deps, signal),
    owner,
    leaseMs: 60_000,
    logger,
    now: () => clock.now(),
  });
  const accept = async (r: LabelRequest) =>
    store.accept({ batchId: r.batchId, payloadHash: `sha256:${r.batchId}`, model: "llama3.3-70b", request: r, replyTo: "https://sqs.test/results", receivedAt: new Date(clock.now()).toISOString() });
  const theJob = () => [...store.jobRecords.values()][0];
  return { store, control, outbox, ctx, accept, theJob };
}

describe("the bulk collector on a fake clock", () => {
  it("runs a pass every pollMs of the clock: submits on the first, collects on the first after the job ended", async () => {
    const clock = new FakeClock();
    const t0 = clock.now();
    const s = setup(clock);
    await s.accept(request("b1", 20));
    const loop = new BulkLoop(s.ctx("w1"), 30_000, clock);
    loop.start();
    try {
      // The first pass submits the job, then the loop sleeps on the clock until the next.
      await until(() => s.theJob()?.state === "running" && clock.waiting === 1, "the first pass submitted the job and the loop sleeps");
      await s.control.run(s.theJob()!.jobArn!);
      await clock.advance(29_999);
      expect(s.theJob()?.state).toBe("running");
      expect(s.outbox.published).toHaveLength(0);
      // pollMs later: the second pass sees the job ended and collects it.
      await clock.advance(1);
      await until(() => s.theJob()?.state === "done" && clock.waiting === 1, "the second pass collected the job");
      const [published] = s.outbox.published;
      expect(published?.result).toMatchObject({ batchId: "b1", status: "completed" });
      expect(published?.result.timing).toEqual({ receivedAt: new Date(t0).toISOString(), completedAt: new Date(t0 + 30_000).toISOString(), durationMs: 30_000 });
      expect(s.theJob()?.submittedAt).toBe(new Date(t0).toISOString());
    } finally {
      await loop.stop();
    }
    // Stopping ends the loop's wait at once.
    expect(clock.waiting).toBe(0);
  });

  it("leaves an ended job to the collector whose lease still holds, and collects it once the lease ran out", async () => {
    const clock = new FakeClock();
    const s = setup(clock);
    await s.accept(request("b1", 20));
    const loop = new BulkLoop(s.ctx("w2"), 30_000, clock);
    await loop.runOnce();
    await s.control.run(s.theJob()!.jobArn!);
    // Another worker holds the collection for a minute (it may be mid-way, or dead).
    const leasedUntil = clock.now() + 60_000;
    expect(await s.store.updateJob(s.theJob()!, { collector: { owner: "w1", until: leasedUntil } })).toBeDefined();
    await loop.runOnce();
    expect(s.theJob()).toMatchObject({ state: "collecting", collector: { owner: "w1" } });
    await clock.advance(59_999);
    await loop.runOnce();
    expect(s.outbox.published).toHaveLength(0);
    await clock.advance(1);
    await loop.runOnce();
    expect(s.theJob()?.state).toBe("done");
    expect(s.outbox.published.map((p) => p.result.batchId)).toEqual(["b1"]);
  });

  it("gathers below the model's minimum records until the gather time has passed on the clock, then sends the batch live", async () => {
    const clock = new FakeClock();
    const s = setup(clock, { minRecords: 100, gatherS: 900 });
    await s.accept(request("b1", 10));
    const loop = new BulkLoop(s.ctx("w1"), 30_000, clock);
    await loop.runOnce();
    await clock.advance(899_999);
    await loop.runOnce();
    expect(s.store.intakes.get("b1")?.state).toBe("pending");
    await clock.advance(1);
    await loop.runOnce();
    expect(s.store.intakes.get("b1")?.state).toBe("live");
    expect(s.outbox.live.map((r) => r.batchId)).toEqual(["b1"]);
  });
});
