import { beforeAll, describe, expect, it } from "vitest";
import type { BulkContext } from "../../src/app/bulk/bulk-context.ts";
import { BulkLoop } from "../../src/app/bulk/bulk-loop.ts";
import { overdueForSlot } from "../../src/app/bulk/bulk-policy.ts";
import { labelBatch } from "../../src/core/classify/label-batch.ts";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { Metrics } from "../../src/core/observability/metrics.ts";
import { PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { BULK_SETTINGS, FakeBulkStore, FakeJobControl, FakeObjectStore, FakeOutbox, bulkPathSettings } from "../support/bulk-fakes.ts";
import { FakeIdempotencyStore, FakeLabelCache, FakeModelProvider, PassThroughLimiter, PROMPTS_DIR, silentLogger, validCompactLabels } from "../support/fakes.ts";
import { FakeClock } from "./fake-clock.ts";

// Batches of a model that has LABELQ_BULK_MAX_JOBS jobs open: how long they wait for a job slot
// (LABELQ_BULK_MAX_WAIT_S), and the gauge that counts them.

const MAX_WAIT_S = 3_600;
const prompts = new PromptRegistry(PROMPTS_DIR);
let prompt: ResolvedPrompt;
beforeAll(async () => {
  prompt = await prompts.resolve("product-feedback", "prod");
});

describe("overdueForSlot", () => {
  const at = (s: number) => ({ receivedAt: new Date(s * 1000).toISOString() });
  const now = 10_000 * 1000;

  it("lets nothing go while the model has a free job slot: those batches are being gathered", () => {
    expect(overdueForSlot([at(0)], { openJobs: 19, maxJobs: 20, maxWaitS: 60, now })).toEqual([]);
  });

  it("lets go, once the model is full, the batches taken in at least maxWaitS ago", () => {
    const batches = [at(10_000 - 3_601), at(10_000 - 3_600), at(10_000 - 3_599)];
    expect(overdueForSlot(batches, { openJobs: 20, maxJobs: 20, maxWaitS: 3_600, now })).toEqual(batches.slice(0, 2));
  });

  it("lets nothing go without a bound", () => {
    expect(overdueForSlot([at(0)], { openJobs: 20, maxJobs: 20, maxWaitS: undefined, now })).toEqual([]);
  });
});

function setup(clock: FakeClock, metrics: Metrics) {
  const store = new FakeBulkStore();
  store.now = () => clock.now();
  const objects = new FakeObjectStore();
  const provider = () => new FakeModelProvider({ labeller: (t) => validCompactLabels(prompt.taxonomy, t), usage: { inputTokens: 2000, outputTokens: 400 } });
  const control = new FakeJobControl(objects, provider());
  const outbox = new FakeOutbox();
  const logger = silentLogger();
  const deps = { prompts, limiter: new PassThroughLimiter(), provider: provider(), logger };
  const ctx: BulkContext = {
    store,
    objects,
    control,
    prompts,
    settings: BULK_SETTINGS,
    bulk: bulkPathSettings({ limits: { maxJobs: 1 }, maxWaitS: MAX_WAIT_S }),
    outbox,
    idempotency: new FakeIdempotencyStore(),
    cache: new FakeLabelCache(),
    label: (r, at, signal) => labelBatch(r, at, BULK_SETTINGS, deps, signal),
    owner: "w1",
    leaseMs: 60_000,
    logger,
    metrics,
    now: () => clock.now(),
  };
  const accept = async (batchId: string) => {
    const r: LabelRequest = { schemaVersion: 1, batchId, items: [{ id: "t1", text: `a text of ${batchId}` }] };
    await store.accept({ batchId, payloadHash: `sha256:${batchId}`, model: "llama3.3-70b", request: r, replyTo: "https://sqs.test/results", receivedAt: new Date(clock.now()).toISOString() });
  };
  const waiting = async () => {
    const values = (await metrics.registry.getSingleMetric("labelq_bulk_batches_waiting_for_slot")?.get())?.values ?? [];
    return values.find((v) => v.labels.model === "llama3.3-70b")?.value;
  };
  return { store, outbox, ctx, accept, waiting, loop: new BulkLoop(ctx, 30_000, clock) };
}

describe("a batch waiting for a job slot", () => {
  it("waits while its model has LABELQ_BULK_MAX_JOBS jobs open, counted by the gauge, and goes live after LABELQ_BULK_MAX_WAIT_S", async () => {
    const clock = new FakeClock();
    const s = setup(clock, new Metrics({ defaultMetrics: false }));
    await s.accept("b1");
    await s.loop.runOnce();
    // b1's job takes the model's one slot; b2 waits for it.
    expect(s.store.intakes.get("b1")?.state).toBe("assigned");
    await s.accept("b2");
    await s.loop.runOnce();
    expect(s.store.intakes.get("b2")?.state).toBe("pending");
    expect(await s.waiting()).toBe(1);
    await clock.advance(MAX_WAIT_S * 1000 - 1);
    await s.loop.runOnce();
    expect(s.store.intakes.get("b2")?.state).toBe("pending");
    expect(s.outbox.live).toHaveLength(0);
    await clock.advance(1);
    await s.loop.runOnce();
    expect(s.store.intakes.get("b2")).toMatchObject({ state: "live", reason: expect.stringMatching(/waited 3600 s \(LABELQ_BULK_MAX_WAIT_S\) for a job slot/) as unknown });
    expect(s.outbox.live.map((r) => [r.batchId, r.mode])).toEqual([["b2", "live"]]);
    expect(await s.waiting()).toBe(0);
    // The batch in the job is not touched.
    expect(s.store.intakes.get("b1")?.state).toBe("assigned");
  });
});
