import { beforeAll, describe, expect, it } from "vitest";
import type { BulkContext } from "../../src/app/bulk/bulk-context.ts";
import { ASSEMBLY_STALE_MS, assembleJobs } from "../../src/app/bulk/assemble-jobs.ts";
import { chunkSizesFor, planBatchRecords, recordIdAt, recordsBytes } from "../../src/app/bulk/plan-records.ts";
import { readJobOutput, readRecordMap } from "../../src/app/bulk/read-output.ts";
import { recordItems, resolveBatch } from "../../src/app/bulk/resolve-batch.ts";
import { submissionOf } from "../../src/app/bulk/job-steps.ts";
import { sortBatchOutput } from "../../src/app/bulk/sort-batch-output.ts";
import { s3Uri } from "../../src/adapters/s3/object-store.ts";
import type { IntakeRecord, JobRecord } from "../../src/core/bulk/bulk-store.ts";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { BULK_SETTINGS, FakeBulkStore, FakeJobControl, FakeObjectStore, FakeOutbox, bulkPathSettings } from "../support/bulk-fakes.ts";
import { FakeModelProvider, PROMPTS_DIR, silentLogger, validCompactLabels } from "../support/fakes.ts";

// Job assembly: which batches a job gets (under an index that lags), how its records are numbered
// and sized, and what its record map says.

const prompts = new PromptRegistry(PROMPTS_DIR);
let prompt: ResolvedPrompt;
beforeAll(async () => {
  prompt = await prompts.resolve("product-feedback", "prod");
});

const MODEL = "llama3.3-70b";

/**
 * The bulk store with its index (pending, batchesOf) lagging, as a DynamoDB GSI may: once frozen,
 * the index answers from the records as they were then, stale versions and states included, until
 * it catches up. Reads by key (findIntake, getJob) and conditional writes see the records as they are.
 */
class LaggingBulkStore extends FakeBulkStore {
  #index: IntakeRecord[] | undefined;

  freezeIndex(): void {
    this.#index = [...this.intakes.values()].map((r) => structuredClone(r));
  }

  catchUp(): void {
    this.#index = undefined;
  }

  override pending(model: string): Promise<IntakeRecord[]> {
    if (!this.#index) return super.pending(model);
    return Promise.resolve(this.#index.filter((r) => r.state === "pending" && r.model === model).sort((a, b) => a.receivedAt.localeCompare(b.receivedAt)));
  }

  override batchesOf(jobKey: string): Promise<IntakeRecord[]> {
    if (!this.#index) return super.batchesOf(jobKey);
    return Promise.resolve(this.#index.filter((r) => r.jobKey === jobKey && r.state !== "pending"));
  }
}

function request(batchId: string, n: number, text: (k: number) => string = (k) => `text ${batchId} number ${k + 1}`): LabelRequest {
  return { schemaVersion: 1, batchId, items: Array.from({ length: n }, (_, k) => ({ id: `t${k + 1}`, text: text(k) })) };
}

function setup(limits: Partial<BulkContext["bulk"]["limits"]> = {}) {
  const store = new LaggingBulkStore();
  const objects = new FakeObjectStore();
  const provider = new FakeModelProvider({ labeller: (t) => validCompactLabels(prompt.taxonomy, t), usage: { inputTokens: 2000, outputTokens: 400 } });
  const control = new FakeJobControl(objects, provider);
  let now = Date.now();
  const ctx: BulkContext = {
    store,
    objects,
    control,
    prompts,
    settings: BULK_SETTINGS,
    bulk: bulkPathSettings({ limits }),
    outbox: new FakeOutbox(),
    label: () => Promise.reject(new Error("no live call in these tests")),
    owner: "w1",
    leaseMs: 60_000,
    logger: silentLogger(),
    now: () => now,
  };
  let received = 0;
  const accept = async (r: LabelRequest) => {
    // A millisecond apart: pending lists them oldest first in this order.
    await store.accept({ batchId: r.batchId, payloadHash: `sha256:${r.batchId}`, model: MODEL, request: r, replyTo: "https://sqs.test/results", receivedAt: new Date(now - 60_000 + received++).toISOString() });
    return (await store.findIntake(r.batchId))!;
  };
  const pass = async () => assembleJobs(ctx, await store.jobs(), new AbortController().signal);
  const jobs = () => [...store.jobRecords.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.jobKey.localeCompare(b.jobKey));
  /** The job's input lines as written, in file order. */
  const inputLines = (job: JobRecord) => job.files.flatMap((key) => objects.objects.get(key)!.toString("utf8").split("\n").filter((l) => l.length > 0));
  /** Bytes of a batch's records as assembly writes them. */
  const bytesOf = async (intake: IntakeRecord) => {
    const batch = await resolveBatch(ctx, intake);
    const items = recordItems(intake.request.items, batch);
    return recordsBytes(planBatchRecords(intake.batchId, items, chunkSizesFor(items, batch.prompt, batch, BULK_SETTINGS.chunkSize), batch.prompt, batch));
  };
  return { store, objects, control, ctx, accept, pass, jobs, inputLines, bytesOf, later: (ms: number) => (now += ms) };
}

describe("job assembly: record ids and the record map", () => {
  it("numbers a job's records 00000000000, 00000000001, ... and writes a record map saying which batch, chunk and texts each is", async () => {
    const s = setup();
    await s.accept(request("b-1", 25));
    await s.accept(request("b.2:x@y", 10));
    await s.pass();
    const [job] = s.jobs();
    expect(job).toMatchObject({ state: "submitting", records: 4, batches: 2 });
    expect(job!.inputPrefix).toMatch(/^lq\/jobs\/[^/]+\/input\/[0-9a-f]{8}\/$/);
    expect(job!.files.every((f) => f.startsWith(job!.inputPrefix))).toBe(true);
    const ids = s.inputLines(job!).map((l) => (JSON.parse(l) as { recordId: string }).recordId);
    expect(ids).toEqual([0, 1, 2, 3].map(recordIdAt));
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9]{11}$/);
    // The map sits next to the input folder, not in it: Bedrock reads every .jsonl under the prefix.
    expect(job!.recordMap?.startsWith(job!.inputPrefix)).toBe(false);
    expect(await readRecordMap(s.objects, job!.recordMap!)).toEqual(
      new Map([
        ["00000000000", "b-1#t1#0"],
        ["00000000001", "b-1#t10#1"],
        ["00000000002", "b-1#t18#2"],
        ["00000000003", "b.2:x@y#t1#0"],
      ]),
    );
  });

  it("gives back, through the record map, each record's answer under its batch and chunk whatever the output's order", async () => {
    const s = setup();
    await s.accept(request("b1", 30));
    await s.accept(request("b2", 20));
    await s.pass();
    const [job] = s.jobs();
    const { jobArn } = await s.control.create({
      jobName: job!.jobName,
      modelId: job!.modelId,
      roleArn: "arn:aws:iam::000000000000:role/r",
      clientRequestToken: job!.clientRequestToken,
      inputUri: s3Uri(s.objects.bucket, job!.inputPrefix),
      outputUri: s3Uri(s.objects.bucket, job!.outputPrefix),
      timeoutHours: 24,
    });
    await s.control.run(jobArn, { status: "Completed", lines: (lines) => [...lines].reverse() });
    const read = await readJobOutput(s.ctx, { ...job!, jobArn });
    expect([...read.records.keys()].sort()).toEqual(["b1#t1#0", "b1#t11#1", "b1#t21#2", "b2#t1#0", "b2#t11#1"]);
    // Each text gets its own labels (the fake model labels a text from its words), not another record's.
    for (const batchId of ["b1", "b2"]) {
      const intake = s.store.intakes.get(batchId)!;
      const batch = await resolveBatch(s.ctx, intake);
      const sorted = sortBatchOutput(batchId, recordItems(intake.request.items, batch), intake.chunks!, read.records, batch.prompt, batch.model);
      expect(sorted.unlabelled).toEqual([]);
      const expected = intake.request.items.map((it) => {
        const d = prompt.codec.decode(validCompactLabels(prompt.taxonomy, it.text));
        return d.ok ? d.labels : undefined;
      });
      expect(sorted.labelled.map((it) => it.labels)).toEqual(expected);
    }
  });
});

describe("job assembly when the index lags (a fake whose index returns stale states)", () => {
  it("writes a batch it just claimed into the job's files even while the index does not list it under the job", async () => {
    const s = setup();
    await s.accept(request("b1", 30));
    await s.accept(request("b2", 20));
    s.store.freezeIndex();
    await s.pass();
    const [job] = s.jobs();
    // The index still shows both pending, under no job; the claims are on the records.
    expect(await s.store.batchesOf(job!.jobKey)).toEqual([]);
    expect(job).toMatchObject({ state: "submitting", records: 5, batches: 2 });
    expect(s.inputLines(job!)).toHaveLength(5);
    expect([...(await readRecordMap(s.objects, job!.recordMap!))!.values()]).toEqual(["b1#t1#0", "b1#t11#1", "b1#t21#2", "b2#t1#0", "b2#t11#1"]);
  });

  it("claims a pending batch whose index row shows an older version of it", async () => {
    const s = setup();
    const b1 = await s.accept(request("b1", 10));
    s.store.freezeIndex();
    await s.store.updateIntake(b1, { reason: "changed after the index row" });
    await s.pass();
    const [job] = s.jobs();
    expect(job).toMatchObject({ state: "submitting", batches: 1, records: 1 });
    expect(s.store.intakes.get("b1")).toMatchObject({ state: "assigned", jobKey: job!.jobKey, version: 3 });
  });

  it("never puts in a second job a batch the index still shows pending after another job took it", async () => {
    const s = setup();
    const b1 = await s.accept(request("b1", 30));
    await s.accept(request("b2", 20));
    s.store.freezeIndex();
    await s.store.updateIntake(b1, { state: "assigned", jobKey: "20261125T000000Z-000000", chunks: [10, 10, 10] });
    await s.pass();
    const [job] = s.jobs();
    expect(job).toMatchObject({ state: "submitting", batches: 1, records: 2 });
    expect([...(await readRecordMap(s.objects, job!.recordMap!))!.values()]).toEqual(["b2#t1#0", "b2#t11#1"]);
    expect(s.store.intakes.get("b1")).toMatchObject({ state: "assigned", jobKey: "20261125T000000Z-000000" });
  });

  it("releases its claims and submits nothing when the batches still pending hold fewer records than the minimum", async () => {
    const s = setup({ minRecords: 4 });
    await s.accept(request("b1", 30));
    const b2 = await s.accept(request("b2", 30));
    s.store.freezeIndex();
    // The index counts 6 records; b2 has gone live meanwhile, which leaves 3.
    await s.store.updateIntake(b2, { state: "live", reason: "sent live" });
    await s.pass();
    const [job] = s.jobs();
    expect(job).toMatchObject({ state: "done", files: [], message: expect.stringContaining("3 records, fewer than the 4") as unknown });
    expect(s.store.intakes.get("b1")).toMatchObject({ state: "pending" });
    expect(s.store.intakes.get("b1")?.jobKey).toBeUndefined();
    expect(s.store.intakes.get("b1")?.chunks).toBeUndefined();
    expect(s.control.creates).toBe(0);
  });

  it("submits a job under the minimum when no index row was stale (the rough count was off), rather than wait for ever", async () => {
    const s = setup({ minRecords: 4 });
    // 40 texts count as 4 records; 15 are blank and never sent, which leaves 3.
    await s.accept(request("b1", 40, (k) => (k >= 25 ? " " : `text b1 number ${k + 1}`)));
    await s.pass();
    const [job] = s.jobs();
    expect(job).toMatchObject({ state: "submitting", records: 3, batches: 1 });
  });

  it("resumes a crashed assembly with the batches the index lists under the job that are still assigned to it, each once", async () => {
    const s = setup();
    const b1 = await s.accept(request("b1", 10));
    const b2 = await s.accept(request("b2", 10));
    const jobKey = "20261125T000000Z-abcdef";
    await s.store.createJob({
      jobKey,
      model: MODEL,
      modelId: "us.meta.llama3-3-70b-instruct-v1:0",
      state: "assembling",
      clientRequestToken: "token",
      jobName: `labelq-${jobKey}`,
      inputPrefix: `lq/jobs/${jobKey}/input/`,
      outputPrefix: `lq/jobs/${jobKey}/output/`,
      files: [],
      records: 0,
      batches: 0,
      createdAt: new Date(s.ctx.now()).toISOString(),
    });
    // The crashed worker claimed both; b2 was released since (its index row under the job is stale).
    const a1 = await s.store.updateIntake(b1, { state: "assigned", jobKey, chunks: [10], promptVersion: prompt.version });
    const a2 = await s.store.updateIntake(b2, { state: "assigned", jobKey, chunks: [10], promptVersion: prompt.version });
    expect(a1 && a2).toBeTruthy();
    s.store.freezeIndex();
    await s.store.updateIntake(a2!, { state: "pending", jobKey: undefined, chunks: undefined, promptVersion: undefined });
    s.later(ASSEMBLY_STALE_MS + 1_000);
    await s.pass();
    const job = s.store.jobRecords.get(jobKey)!;
    expect(job).toMatchObject({ state: "submitting", batches: 1, records: 1 });
    expect([...(await readRecordMap(s.objects, job.recordMap!))!.values()]).toEqual(["b1#t1#0"]);
    // Once the index has caught up, b2, pending again, goes into a job of its own: in one job, not two.
    s.store.catchUp();
    await s.pass();
    const other = s.jobs().find((j) => j.jobKey !== jobKey)!;
    expect([...(await readRecordMap(s.objects, other.recordMap!))!.values()]).toEqual(["b2#t1#0"]);
  });
});

describe("job assembly: what a job is submitted with", () => {
  const ROLE = "arn:aws:iam::000000000000:role/labelq-bedrock-batch";

  it("records the configured role, bucket and timeout on a new job, and submits with them", async () => {
    const s = setup();
    await s.accept(request("b1", 10));
    await s.pass();
    const [job] = s.jobs();
    expect(job?.submission).toEqual({ roleArn: ROLE, bucket: s.objects.bucket, timeoutHours: 24 });
    // What the configuration says later does not change the submission of a recorded job.
    const later = { bulk: { roleArn: "arn:aws:iam::000000000000:role/another-role", jobTimeoutH: 48 }, objects: { bucket: "another-bucket" } };
    expect(submissionOf(later, job!)).toMatchObject({ roleArn: ROLE, timeoutHours: 24, inputUri: s3Uri(s.objects.bucket, job!.inputPrefix), outputUri: s3Uri(s.objects.bucket, job!.outputPrefix) });
    // A job recorded before the submission was kept: the configuration's, as before.
    const { submission: _kept, ...older } = job!;
    expect(submissionOf(later, older)).toMatchObject({ roleArn: "arn:aws:iam::000000000000:role/another-role", timeoutHours: 48, inputUri: s3Uri("another-bucket", job!.inputPrefix) });
  });

  it("keeps the recorded role and timeout when another worker finishes a crashed assembly, and names the bucket it wrote the files to", async () => {
    const s = setup();
    const b1 = await s.accept(request("b1", 10));
    const jobKey = "20261125T000000Z-abcdef";
    const recorded = { roleArn: "arn:aws:iam::000000000000:role/the-role-then", bucket: "the-bucket-then", timeoutHours: 36 };
    await s.store.createJob({
      jobKey,
      model: MODEL,
      modelId: "us.meta.llama3-3-70b-instruct-v1:0",
      state: "assembling",
      clientRequestToken: "token",
      jobName: `labelq-${jobKey}`,
      inputPrefix: `lq/jobs/${jobKey}/input/`,
      outputPrefix: `lq/jobs/${jobKey}/output/`,
      submission: recorded,
      files: [],
      records: 0,
      batches: 0,
      createdAt: new Date(s.ctx.now()).toISOString(),
    });
    expect(await s.store.updateIntake(b1, { state: "assigned", jobKey, chunks: [10], promptVersion: prompt.version })).toBeDefined();
    s.later(ASSEMBLY_STALE_MS + 1_000);
    await s.pass();
    const job = s.store.jobRecords.get(jobKey)!;
    expect(job).toMatchObject({ state: "submitting", batches: 1 });
    expect(job.files.every((key) => s.objects.objects.has(key))).toBe(true);
    expect(job.submission).toEqual({ ...recorded, bucket: s.objects.bucket });
  });
});

describe("job assembly: sizes in UTF-8 bytes", () => {
  // 3 bytes a character in UTF-8 (1 in UTF-16), and an emoji of 4 bytes (2 in UTF-16).
  const japanese = (k: number) => `${"この製品は本当に素晴らしいです。色も形も気に入りましたが、電池の持ちが少し悪いです。".repeat(12)} 👍🏽 ${k}`;

  it("keeps a job within the job size quota counted in bytes, where counting characters would have overfilled it", async () => {
    const s = setup();
    const j1 = await s.accept(request("jp1", 20, japanese));
    const j2 = await s.accept(request("jp2", 20, japanese));
    const [a, b] = [await s.bytesOf(j1), await s.bytesOf(j2)];
    const maxJobBytes = a + b - 1;
    // The estimate in characters (the system prompt and 2,000 per record, plus the texts) fits both batches under it.
    const chars = (r: LabelRequest) => 2 * (prompt.system.length + 2_000) + r.items.reduce((n, it) => n + it.text.length, 0);
    expect(chars(j1.request) + chars(j2.request)).toBeLessThanOrEqual(maxJobBytes);
    s.ctx.bulk.limits.maxJobBytes = maxJobBytes;
    await s.pass();
    const [first] = s.jobs();
    expect(first).toMatchObject({ state: "submitting", batches: 1 });
    const written = first!.files.reduce((n, key) => n + s.objects.objects.get(key)!.length, 0);
    expect(written).toBe(a);
    expect(written).toBeLessThanOrEqual(maxJobBytes);
    expect(s.store.intakes.get("jp2")?.state).toBe("pending");
    // The next pass puts the batch left over into a job of its own.
    await s.pass();
    expect(s.jobs().map((j) => j.batches)).toEqual([1, 1]);
  });

  it("cuts input files at the file size quota in bytes, though their lines would fit in characters", async () => {
    const s = setup();
    const j1 = await s.accept(request("jp1", 20, japanese));
    const lines = planBatchRecords("jp1", j1.request.items, [10, 10], prompt, { model: BULK_SETTINGS.catalogue!.models.find((m) => m.alias === MODEL)!, inference: (await resolveBatch(s.ctx, j1)).inference });
    const maxFileBytes = lines[0]!.bytes + lines[1]!.bytes - 1;
    expect(lines.reduce((n, r) => n + r.line.length + 1, 0)).toBeLessThanOrEqual(maxFileBytes);
    s.ctx.bulk.limits.maxFileBytes = maxFileBytes;
    await s.pass();
    const [job] = s.jobs();
    expect(job!.files).toHaveLength(2);
    for (const key of job!.files) expect(s.objects.objects.get(key)!.length).toBeLessThanOrEqual(maxFileBytes);
  });

  it("sends live a batch whose records alone are larger than a job may be", async () => {
    const s = setup();
    const j1 = await s.accept(request("jp1", 20, japanese));
    s.ctx.bulk.limits.maxJobBytes = (await s.bytesOf(j1)) - 1;
    await s.pass();
    expect(s.store.intakes.get("jp1")).toMatchObject({ state: "live", reason: expect.stringContaining("more than a batch inference job may") as unknown });
    expect((s.ctx.outbox as FakeOutbox).live.map((r) => r.batchId)).toEqual(["jp1"]);
  });
});
