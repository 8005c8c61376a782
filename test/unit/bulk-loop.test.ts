import { beforeAll, describe, expect, it } from "vitest";
import type { BulkContext } from "../../src/app/bulk/bulk-context.ts";
import { BulkLoop } from "../../src/app/bulk/bulk-loop.ts";
import { cancelJob } from "../../src/app/bulk/cancel-job.ts";
import { toJobSubmissionError } from "../../src/adapters/bedrock/job-control.ts";
import { labelBatch } from "../../src/core/classify/label-batch.ts";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { resultSchema } from "../../src/core/contracts/result.ts";
import { errorCode, ModelCallError } from "../../src/core/errors/errors.ts";
import { Metrics } from "../../src/core/observability/metrics.ts";
import { PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { BULK_SETTINGS, FakeBulkStore, FakeJobControl, FakeObjectStore, FakeOutbox, type FakeJobRun, bulkPathSettings } from "../support/bulk-fakes.ts";
import { FakeIdempotencyStore, FakeLabelCache, FakeModelProvider, PassThroughLimiter, PROMPTS_DIR, silentLogger, validCompactLabels } from "../support/fakes.ts";

const prompts = new PromptRegistry(PROMPTS_DIR);
let prompt: ResolvedPrompt;
beforeAll(async () => {
  prompt = await prompts.resolve("product-feedback", "prod");
});

const settings = BULK_SETTINGS;

function request(batchId: string, n: number): LabelRequest {
  return { schemaVersion: 1, batchId, items: Array.from({ length: n }, (_, k) => ({ id: `t${k + 1}`, text: `text ${batchId} number ${k + 1}` })) };
}

/** A bulk loop on fakes of labelq's own interfaces; `live` is the provider behind live re-asks. */
function setup(options: { minRecords?: number; gatherS?: number; onJobFailure?: "live" | "dlq"; metrics?: Metrics } = {}) {
  const store = new FakeBulkStore();
  const objects = new FakeObjectStore();
  const batchModel = new FakeModelProvider({ labeller: (t) => validCompactLabels(prompt.taxonomy, t), usage: { inputTokens: 2000, outputTokens: 400 } });
  const live = new FakeModelProvider({ labeller: (t) => validCompactLabels(prompt.taxonomy, t), usage: { inputTokens: 2000, outputTokens: 400 } });
  const control = new FakeJobControl(objects, batchModel);
  const outbox = new FakeOutbox();
  const idempotency = new FakeIdempotencyStore();
  const cache = new FakeLabelCache();
  const logger = silentLogger();
  const deps = { prompts, limiter: new PassThroughLimiter(), provider: live, logger };
  const ctx = (owner: string): BulkContext => ({
    store,
    objects,
    control,
    prompts,
    settings,
    bulk: bulkPathSettings({ gatherS: options.gatherS ?? 0, limits: { minRecords: options.minRecords ?? 1 }, onJobFailure: options.onJobFailure ?? "live" }),
    outbox,
    idempotency,
    cache,
    label: (r, at, signal) => labelBatch(r, at, settings, deps, signal),
    owner,
    leaseMs: 60_000,
    logger,
    metrics: options.metrics,
    now: Date.now,
  });
  const accept = async (r: LabelRequest) =>
    store.accept({ batchId: r.batchId, payloadHash: `sha256:${r.batchId}`, model: "llama3.3-70b", request: r, replyTo: "https://sqs.test/results", receivedAt: new Date().toISOString() });
  const theJob = () => [...store.jobRecords.values()][0]!;
  const runJob = async (run?: FakeJobRun) => control.run(theJob().jobArn!, run);
  return { store, objects, control, outbox, idempotency, cache, live, batchModel, ctx, accept, theJob, runJob };
}

describe("the bulk loop on fakes of its store, job control and outbox", () => {
  it("gathers batches into one job, submits it, and publishes each batch once from its output at batch prices", async () => {
    const s = setup();
    for (const id of ["b1", "b2", "b3"]) await s.accept(request(id, 25));
    const loop = new BulkLoop(s.ctx("w1"), 1000);
    await loop.runOnce();
    expect(s.theJob()).toMatchObject({ state: "running", batches: 3, records: 9, bedrockStatus: "Submitted" });
    expect(s.control.creates).toBe(1);
    await s.runJob();
    await loop.runOnce();
    expect(s.theJob().state).toBe("done");
    expect(s.outbox.published.map((p) => p.result.batchId).sort()).toEqual(["b1", "b2", "b3"]);
    for (const { result } of s.outbox.published) {
      expect(resultSchema.parse(result).status).toBe("completed");
      expect(result.items.every((it) => it.source === "model")).toBe(true);
      // Three records of 2,000 + 400 tokens at Llama 3.3's batch price (0.00036 per 1,000 both ways).
      expect(result.usage).toMatchObject({ modelCalls: 3, inputTokens: 6000, outputTokens: 1200, costUsd: 0.002592 });
    }
    expect(s.live.calls).toHaveLength(0);
    expect(s.cache.stats().writes).toBe(75);
    expect(s.theJob().summary).toMatchObject({ answeredRecords: 9, publishedBatches: 3, labelledTexts: 75, reaskedTexts: 0 });
    // Another pass publishes nothing again.
    await loop.runOnce();
    expect(s.outbox.published).toHaveLength(3);
  });

  it("leaves empty, blank and over-long texts out of the job's records and gives them their item error in the published result", async () => {
    const s = setup();
    const r = request("b1", 12);
    r.items[2] = { id: "t3", text: "" };
    r.items[5] = { id: "t6", text: "   " };
    r.items[8] = { id: "t9", text: "y".repeat(5_001) };
    await s.accept(r);
    const loop = new BulkLoop(s.ctx("w1"), 1000);
    await loop.runOnce();
    // Nine texts the model can be asked about: one record of 9 (chunk size 10), none of the three others in it.
    expect(s.theJob()).toMatchObject({ records: 1 });
    expect(s.batchModel.calls).toHaveLength(0);
    await s.runJob();
    await loop.runOnce();
    expect(s.batchModel.textsPerCall().flat()).toHaveLength(9);
    expect(s.batchModel.textsPerCall().flat()).not.toContain("");
    const [published] = s.outbox.published;
    expect(published?.result.status).toBe("partial");
    expect(published?.result.items.map((it) => it.error?.code ?? null)).toEqual([null, null, "TEXT_EMPTY", null, null, "TEXT_EMPTY", null, null, "TEXT_TOO_LONG", null, null, null]);
    expect(s.live.calls).toHaveLength(0);
    expect(s.cache.stats().writes).toBe(9);
    expect(resultSchema.safeParse(published?.result).success).toBe(true);
  });

  it("submits once when the worker dies between CreateModelInvocationJob and recording the ARN: the same clientRequestToken returns the same job", async () => {
    const s = setup();
    await s.accept(request("b1", 10));
    s.store.failNextJobUpdate = (changes) => changes.jobArn !== undefined;
    await new BulkLoop(s.ctx("w1"), 1000).runOnce().catch(() => undefined);
    expect(s.control.creates).toBe(1);
    expect(s.theJob().state).toBe("submitting");
    // A fresh worker (the first one died) finds the job submitting and calls again with its token.
    await new BulkLoop(s.ctx("w2"), 1000).runOnce();
    expect(s.control.creates).toBe(2);
    expect(s.control.jobs.size).toBe(1);
    expect(s.theJob()).toMatchObject({ state: "running", jobArn: [...s.control.jobs.keys()][0] });
  });

  it("finishes a job another worker submitted before it restarted", async () => {
    const s = setup();
    await s.accept(request("b1", 10));
    await new BulkLoop(s.ctx("w1"), 1000).runOnce();
    await s.runJob();
    await new BulkLoop(s.ctx("w2"), 1000).runOnce();
    expect(s.outbox.published.map((p) => p.result.batchId)).toEqual(["b1"]);
    expect(s.theJob().state).toBe("done");
  });

  it("re-asks live the texts of records missing from a partially completed job, and completes the batch", async () => {
    const s = setup();
    await s.accept(request("b1", 30));
    const loop = new BulkLoop(s.ctx("w1"), 1000);
    await loop.runOnce();
    await s.runJob({ status: "PartiallyCompleted", lines: (lines) => lines.slice(1) });
    await loop.runOnce();
    const [published] = s.outbox.published;
    expect(published?.result.status).toBe("completed");
    expect(s.live.calls).toHaveLength(1);
    expect(s.live.calls[0]?.texts).toHaveLength(10);
    expect(published?.result.usage.modelCalls).toBe(3);
    expect(s.theJob().summary).toMatchObject({ answeredRecords: 2, missingRecords: 1, reaskedTexts: 10 });
  });

  it("matches output lines to records by recordId whatever their order, and re-asks the record of a malformed line", async () => {
    const s = setup();
    await s.accept(request("b1", 30));
    await s.accept(request("b2", 20));
    const loop = new BulkLoop(s.ctx("w1"), 1000);
    await loop.runOnce();
    await s.runJob({ status: "Completed", lines: (lines) => [...lines].reverse().map((l, k) => (k === 0 ? l.slice(0, 40) : l)) });
    await loop.runOnce();
    const byId = new Map(s.outbox.published.map((p) => [p.result.batchId, p.result]));
    expect(byId.get("b1")?.status).toBe("completed");
    expect(byId.get("b2")?.status).toBe("completed");
    // The last record (b2's second chunk) was cut: its 10 texts were asked live.
    expect(s.live.textsPerCall()).toEqual([Array.from({ length: 10 }, (_, k) => `text b2 number ${k + 11}`)]);
    // Each text got its own labels, not its neighbour's: answers were matched by record id.
    const decoded = request("b1", 30).items.map((it) => {
      const d = prompt.codec.decode(validCompactLabels(prompt.taxonomy, it.text));
      return d.ok ? d.labels : undefined;
    });
    expect(byId.get("b1")?.items.map((it) => it.labels)).toEqual(decoded);
    expect(s.theJob().summary).toMatchObject({ malformedLines: 1, missingRecords: 1 });
  });

  it("hands the batches of a failed job to the live path", async () => {
    const s = setup();
    await s.accept(request("b1", 10));
    const loop = new BulkLoop(s.ctx("w1"), 1000);
    await loop.runOnce();
    await s.runJob({ status: "Failed", message: "internal error", noOutput: true });
    await loop.runOnce();
    expect(s.outbox.live.map((r) => [r.batchId, r.mode])).toEqual([["b1", "live"]]);
    expect(s.store.intakes.get("b1")?.state).toBe("live");
    expect(s.store.intakes.get("b1")?.reason).toContain("failed: internal error");
    expect(s.theJob()).toMatchObject({ state: "done", summary: { liveBatches: 1 } });
  });

  it("sends the batches of an expired job to the DLQ with the reason when LABELQ_BULK_ON_JOB_FAILURE=dlq", async () => {
    const s = setup({ onJobFailure: "dlq" });
    await s.accept(request("b1", 10));
    const loop = new BulkLoop(s.ctx("w1"), 1000);
    await loop.runOnce();
    await s.runJob({ status: "Expired", noOutput: true });
    await loop.runOnce();
    expect(s.outbox.dlq).toHaveLength(1);
    expect(s.outbox.dlq[0]?.error).toBeInstanceOf(ModelCallError);
    expect((s.outbox.dlq[0]?.error as ModelCallError).code).toBe("MODEL_TIMEOUT");
    expect(s.outbox.dlq[0]?.error.message).toMatch(/expired/);
    expect(s.store.intakes.get("b1")?.state).toBe("dead-lettered");
  });

  it("ends a job Bedrock refuses at submission and sends its batches live", async () => {
    const s = setup();
    s.control.refuseWith = new ModelCallError("MODEL_REJECTED_REQUEST", "m", "ValidationException: too few records");
    await s.accept(request("b1", 10));
    await new BulkLoop(s.ctx("w1"), 1000).runOnce();
    expect(s.outbox.live.map((r) => r.batchId)).toEqual(["b1"]);
    expect(s.theJob()).toMatchObject({ state: "done", bedrockStatus: "Failed" });
  });

  it("sends batches live when the gather time runs out below the model's minimum records per job", async () => {
    const s = setup({ minRecords: 100, gatherS: 0 });
    await s.accept(request("b1", 10));
    await new BulkLoop(s.ctx("w1"), 1000).runOnce();
    expect(s.store.jobRecords.size).toBe(0);
    expect(s.outbox.live.map((r) => r.batchId)).toEqual(["b1"]);
  });

  it("keeps waiting below the minimum while the gather time lasts", async () => {
    const s = setup({ minRecords: 100, gatherS: 3600 });
    await s.accept(request("b1", 10));
    await new BulkLoop(s.ctx("w1"), 1000).runOnce();
    expect(s.store.jobRecords.size).toBe(0);
    expect(s.outbox.live).toHaveLength(0);
    expect(s.store.intakes.get("b1")?.state).toBe("pending");
  });

  it("does not publish again a batch the live path completed meanwhile", async () => {
    const s = setup();
    await s.accept(request("b1", 10));
    const loop = new BulkLoop(s.ctx("w1"), 1000);
    await loop.runOnce();
    const earlier = { ...(await s.ctx("x").label(request("b1", 10), new Date(), new AbortController().signal)) };
    s.idempotency.records.set("b1", { status: "COMPLETED", payloadHash: "sha256:b1", owner: "live", leaseExpiresAt: 0, result: earlier });
    await s.runJob();
    await loop.runOnce();
    expect(s.outbox.published).toHaveLength(0);
    expect(s.store.intakes.get("b1")?.state).toBe("done");
  });
});

describe("the bulk loop when a step fails or races", () => {
  it("hands off on a later pass a batch whose send to the live path failed after it left pending", async () => {
    const s = setup({ minRecords: 100, gatherS: 0 });
    await s.accept(request("b1", 10));
    s.outbox.failNextLive = new Error("SQS SendMessage failed");
    await expect(new BulkLoop(s.ctx("w1"), 1000).runOnce()).rejects.toThrow(/SendMessage/);
    expect(s.store.intakes.get("b1")?.state).toBe("handing-off");
    expect(s.outbox.live).toHaveLength(0);
    await new BulkLoop(s.ctx("w2"), 1000).runOnce();
    expect(s.outbox.live.map((r) => [r.batchId, r.mode])).toEqual([["b1", "live"]]);
    expect(s.store.intakes.get("b1")?.state).toBe("live");
  });

  it("sends a batch that cannot be planned to the DLQ under its error's code, kept when the send fails and is resumed from pending", async () => {
    const s = setup({ onJobFailure: "dlq" });
    await s.accept({ ...request("b1", 10), taxonomy: "no-such-taxonomy" });
    s.outbox.failNextDlq = new Error("SQS SendMessage failed");
    await expect(new BulkLoop(s.ctx("w1"), 1000).runOnce()).rejects.toThrow(/SendMessage/);
    expect(s.store.intakes.get("b1")).toMatchObject({ state: "handing-off", handOffTo: "dlq", handOffCode: "TAXONOMY_NOT_FOUND" });
    expect(s.outbox.dlq).toHaveLength(0);
    await new BulkLoop(s.ctx("w2"), 1000).runOnce();
    expect(s.outbox.dlq.map((d) => [d.request.batchId, errorCode(d.error)])).toEqual([["b1", "TAXONOMY_NOT_FOUND"]]);
    expect(s.store.intakes.get("b1")).toMatchObject({ state: "dead-lettered", reason: expect.stringMatching(/no-such-taxonomy/) as unknown });
  });

  it("stores the ARN and stops the job when labelq jobs cancel races with the submission", async () => {
    const s = setup();
    await s.accept(request("b1", 10));
    let cancels = 0;
    s.control.afterCreate = async () => {
      if (cancels++ === 0) expect((await cancelJob(s.store, s.control, s.theJob().jobKey)).kind).toBe("not-submitted");
    };
    const loop = new BulkLoop(s.ctx("w1"), 1000);
    await loop.runOnce();
    const [jobArn] = [...s.control.jobs.keys()];
    expect(s.control.creates).toBe(1);
    expect(s.theJob()).toMatchObject({ state: "running", jobArn, cancelRequested: true });
    expect(s.control.jobs.get(jobArn!)?.status.status).toBe("Stopping");
    await s.runJob({ status: "Stopped", noOutput: true });
    await loop.runOnce();
    expect(s.outbox.live.map((r) => r.batchId)).toEqual(["b1"]);
    expect(s.theJob().state).toBe("done");
  });

  it("finds and stops with its clientRequestToken a job cancelled after a worker died between Create and recording the ARN", async () => {
    const s = setup();
    await s.accept(request("b1", 10));
    s.store.failNextJobUpdate = (changes) => changes.jobArn !== undefined;
    await new BulkLoop(s.ctx("w1"), 1000).runOnce().catch(() => undefined);
    expect((await cancelJob(s.store, s.control, s.theJob().jobKey)).kind).toBe("not-submitted");
    await new BulkLoop(s.ctx("w2"), 1000).runOnce();
    expect(s.control.jobs.size).toBe(1);
    const [jobArn] = [...s.control.jobs.keys()];
    expect(s.theJob()).toMatchObject({ jobArn, cancelRequested: true });
    expect(s.control.jobs.get(jobArn!)?.status.status).toBe("Stopping");
  });

  it("ends a job as failed when its status cannot be read for a reason that does not pass, and keeps polling one that may", async () => {
    const s = setup();
    await s.accept(request("b1", 10));
    const loop = new BulkLoop(s.ctx("w1"), 1000);
    await loop.runOnce();
    s.control.failGetWith = new ModelCallError("MODEL_THROTTLED", "job", "ThrottlingException: slow down");
    await loop.runOnce();
    expect(s.theJob().state).toBe("running");
    s.control.failGetWith = new ModelCallError("MODEL_REJECTED_REQUEST", "job", "AccessDeniedException: not authorized to GetModelInvocationJob");
    await loop.runOnce();
    expect(s.theJob()).toMatchObject({ state: "done", bedrockStatus: "Failed" });
    expect(s.outbox.live.map((r) => r.batchId)).toEqual(["b1"]);
    expect(s.store.intakes.get("b1")?.reason).toMatch(/GetModelInvocationJob failed: AccessDeniedException/);
  });

  it("submits again on a later pass a job refused for too many jobs in progress (ServiceQuotaExceededException)", async () => {
    const quota = Object.assign(new Error("too many batch inference jobs in progress"), { name: "ServiceQuotaExceededException", $metadata: { httpStatusCode: 400 } });
    expect(toJobSubmissionError("m", quota).retryable).toBe(true);
    expect(toJobSubmissionError("m", Object.assign(new Error("bad input"), { name: "ValidationException" })).retryable).toBe(false);
    const s = setup();
    await s.accept(request("b1", 10));
    s.control.refuseNextWith = toJobSubmissionError("m", quota);
    const loop = new BulkLoop(s.ctx("w1"), 1000);
    await loop.runOnce();
    expect(s.theJob().state).toBe("submitting");
    expect(s.outbox.live).toHaveLength(0);
    await loop.runOnce();
    expect(s.theJob().state).toBe("running");
  });

  it("counts each record outcome and malformed line once, however many passes the collection takes", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const s = setup({ metrics });
    await s.accept(request("b1", 30));
    const loop = new BulkLoop(s.ctx("w1"), 1000);
    await loop.runOnce();
    await s.runJob({ status: "Completed", lines: (lines) => lines.map((l, k) => (k === 0 ? l.slice(0, 40) : l)) });
    // The live path holds the batch (a duplicate message routed live): the collection waits.
    s.idempotency.records.set("b1", { status: "IN_PROGRESS", payloadHash: "sha256:b1", owner: "live", leaseExpiresAt: Date.now() + 60_000 });
    await loop.runOnce();
    await loop.runOnce();
    expect(s.theJob().state).toBe("collecting");
    s.idempotency.records.delete("b1");
    await loop.runOnce();
    expect(s.theJob().state).toBe("done");
    const counts: Record<string, number> = Object.fromEntries((await metrics.bulkRecords.get()).values.map((v) => [String(v.labels.outcome), v.value]));
    expect(counts).toEqual({ answered: 2, failed: 0, missing: 1, malformed: 1 });
  });
});
