import { beforeAll, describe, expect, it } from "vitest";
import type { BulkContext } from "../../src/app/bulk/bulk-context.ts";
import { BulkLoop } from "../../src/app/bulk/bulk-loop.ts";
import { collectJob } from "../../src/app/bulk/collect-job.ts";
import { labelBatch } from "../../src/core/classify/label-batch.ts";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { errorCode } from "../../src/core/errors/errors.ts";
import { PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { BULK_SETTINGS, FakeBulkStore, FakeJobControl, FakeObjectStore, FakeOutbox, bulkPathSettings } from "../support/bulk-fakes.ts";
import { FakeIdempotencyStore, FakeLabelCache, FakeModelProvider, PassThroughLimiter, PROMPTS_DIR, silentLogger, validCompactLabels } from "../support/fakes.ts";
import { until } from "../support/until.ts";
import { FakeClock } from "./fake-clock.ts";

// Collecting a bulk job on fakes and a fake clock: the collector's lease held through a long live
// re-ask (and given up when another worker holds it), and the code a batch that cannot be
// published carries to the DLQ.

const LEASE_MS = 60_000;
const prompts = new PromptRegistry(PROMPTS_DIR);
let prompt: ResolvedPrompt;
beforeAll(async () => {
  prompt = await prompts.resolve("product-feedback", "prod");
});

function request(batchId: string, n: number): LabelRequest {
  return { schemaVersion: 1, batchId, items: Array.from({ length: n }, (_, k) => ({ id: `t${k + 1}`, text: `text ${batchId} number ${k + 1}` })) };
}

/** The bulk context on fakes and one fake clock; with `holdReasks`, live re-asks wait until the test lets them go (`reask`). */
function setup(clock: FakeClock, options: { holdReasks?: boolean } = {}) {
  const store = new FakeBulkStore();
  store.now = () => clock.now();
  const objects = new FakeObjectStore();
  const provider = () => new FakeModelProvider({ labeller: (t) => validCompactLabels(prompt.taxonomy, t), usage: { inputTokens: 2000, outputTokens: 400 } });
  const control = new FakeJobControl(objects, provider());
  const outbox = new FakeOutbox();
  const idempotency = new FakeIdempotencyStore();
  idempotency.now = () => clock.now();
  const logger = silentLogger();
  const deps = { prompts, limiter: new PassThroughLimiter(), provider: provider(), logger };
  const reask = { started: 0, aborted: 0, release: () => {} };
  const ctx = (owner: string): BulkContext => ({
    store,
    objects,
    control,
    prompts,
    settings: BULK_SETTINGS,
    bulk: bulkPathSettings(),
    outbox,
    idempotency,
    cache: new FakeLabelCache(),
    label: async (r, at, signal) => {
      reask.started += 1;
      if (options.holdReasks) await new Promise<void>((resolve, reject) => {
        reask.release = resolve;
        signal.addEventListener("abort", () => {
          reask.aborted += 1;
          reject(signal.reason as Error);
        });
      });
      return labelBatch(r, at, BULK_SETTINGS, deps, signal);
    },
    owner,
    leaseMs: LEASE_MS,
    logger,
    now: () => clock.now(),
  });
  const accept = async (r: LabelRequest) =>
    store.accept({ batchId: r.batchId, payloadHash: `sha256:${r.batchId}`, model: "llama3.3-70b", request: r, replyTo: "https://sqs.test/results", receivedAt: new Date(clock.now()).toISOString() });
  const theJob = () => [...store.jobRecords.values()][0];
  return { store, control, outbox, idempotency, reask, ctx, accept, theJob };
}

/** A job of one 20-text batch whose output lacks its first record: collecting it re-asks that record's texts live. */
async function jobWithAMissingRecord(clock: FakeClock) {
  const s = setup(clock, { holdReasks: true });
  await s.accept(request("b1", 20));
  const loop = new BulkLoop(s.ctx("w1"), 30_000, clock);
  await loop.runOnce();
  await s.control.run(s.theJob()!.jobArn!, { status: "Completed", lines: (lines) => lines.slice(1) });
  return { s, loop };
}

describe("the collector's lease on a job", () => {
  it("is renewed on the clock through a live re-ask longer than the lease, so no other worker starts on the job", async () => {
    const clock = new FakeClock();
    const { s, loop } = await jobWithAMissingRecord(clock);
    const pass = loop.runOnce();
    await until(() => s.reask.started === 1, "the collector re-asking live the texts of the missing record");
    // Twice the lease goes by while the re-ask runs; renewed every third of it.
    for (let k = 0; k < 6; k++) await clock.advance(LEASE_MS / 3);
    await until(() => s.theJob()?.collector?.until === clock.now() + LEASE_MS, "the collector lease renewed at the last tick");
    expect(s.theJob()?.collector?.owner).toBe("w1");
    expect(await collectJob(s.ctx("w2"), s.theJob()!, new AbortController().signal)).toBeUndefined();
    expect(s.reask.started).toBe(1);
    s.reask.release();
    await pass;
    expect(s.theJob()).toMatchObject({ state: "done", summary: { publishedBatches: 1 } });
    expect(s.theJob()?.summary?.reaskedTexts).toBeGreaterThan(0);
    expect(s.theJob()?.collector).toBeUndefined();
    expect(s.outbox.published.map((p) => p.result.batchId)).toEqual(["b1"]);
    // The renewals stopped with the collection: only the loop's own waits are left.
    expect(clock.waiting).toBe(0);
  });

  it("stops the work when another worker holds the lease: the re-ask is aborted, nothing is published, the lease is left to that worker", async () => {
    const clock = new FakeClock();
    const { s, loop } = await jobWithAMissingRecord(clock);
    const pass = loop.runOnce();
    await until(() => s.reask.started === 1, "the collector re-asking live");
    // This worker stalled past its lease and another took the job over.
    const job = s.theJob()!;
    const other = { owner: "w2", until: clock.now() + 10 * LEASE_MS };
    s.store.jobRecords.set(job.jobKey, { ...job, collector: other, version: job.version + 1 });
    await clock.advance(LEASE_MS / 3);
    await pass;
    expect(s.reask.aborted).toBe(1);
    expect(s.outbox.published).toHaveLength(0);
    expect(s.theJob()).toMatchObject({ state: "collecting", collector: other });
    expect(s.store.intakes.get("b1")?.state).toBe("assigned");
  });

  it("counts as lost once it ran out without a renewal (the store unreachable meanwhile)", async () => {
    const clock = new FakeClock();
    const { s, loop } = await jobWithAMissingRecord(clock);
    const pass = loop.runOnce();
    await until(() => s.reask.started === 1, "the collector re-asking live");
    const getJob = s.store.getJob.bind(s.store);
    s.store.getJob = () => Promise.reject(new Error("the bulk table is unreachable"));
    await clock.advance(LEASE_MS / 3);
    await clock.advance(LEASE_MS / 3);
    expect(s.reask.aborted).toBe(0);
    await clock.advance(LEASE_MS / 3);
    s.store.getJob = getJob;
    await pass;
    expect(s.reask.aborted).toBe(1);
    expect(s.outbox.published).toHaveLength(0);
  });
});

describe("a batch that cannot be published", () => {
  it("goes to the DLQ with the code of its error: BATCH_ID_CONFLICT, not MODEL_REJECTED_REQUEST", async () => {
    const clock = new FakeClock();
    const s = setup(clock);
    await s.accept(request("b1", 20));
    const loop = new BulkLoop(s.ctx("w1"), 30_000, clock);
    await loop.runOnce();
    // Meanwhile the batchId was labelled live with another payload.
    s.idempotency.records.set("b1", { status: "COMPLETED", payloadHash: "sha256:another-payload", owner: "w9", leaseExpiresAt: 0 });
    await s.control.run(s.theJob()!.jobArn!);
    await loop.runOnce();
    expect(s.outbox.published).toHaveLength(0);
    expect(s.outbox.dlq.map((d) => [d.request.batchId, errorCode(d.error)])).toEqual([["b1", "BATCH_ID_CONFLICT"]]);
    expect(s.store.intakes.get("b1")).toMatchObject({ state: "dead-lettered", reason: expect.stringMatching(/already used for a different payload/) as unknown });
    expect(s.theJob()).toMatchObject({ state: "done", summary: { deadLetteredBatches: 1 } });
  });

  it("keeps that code when its DLQ send is interrupted after the batch was marked handing-off, and the hand-off is resumed", async () => {
    const clock = new FakeClock();
    const s = setup(clock);
    await s.accept(request("b1", 20));
    const loop = new BulkLoop(s.ctx("w1"), 30_000, clock);
    await loop.runOnce();
    s.idempotency.records.set("b1", { status: "COMPLETED", payloadHash: "sha256:another-payload", owner: "w9", leaseExpiresAt: 0 });
    await s.control.run(s.theJob()!.jobArn!);
    s.outbox.failNextDlq = new Error("the worker died before SendMessage");
    await loop.runOnce().catch(() => undefined);
    expect(s.outbox.dlq).toHaveLength(0);
    expect(s.store.intakes.get("b1")).toMatchObject({ state: "handing-off", handOffTo: "dlq", handOffCode: "BATCH_ID_CONFLICT" });
    // Another worker resumes the collection: the job itself completed (the failure code of its
    // batches would be MODEL_ERROR), yet the batch goes to the DLQ under its own code.
    await clock.advance(LEASE_MS);
    await new BulkLoop(s.ctx("w2"), 30_000, clock).runOnce();
    expect(s.outbox.dlq.map((d) => [d.request.batchId, errorCode(d.error)])).toEqual([["b1", "BATCH_ID_CONFLICT"]]);
    expect(s.store.intakes.get("b1")).toMatchObject({ state: "dead-lettered", reason: expect.stringMatching(/already used for a different payload/) as unknown });
  });
});
