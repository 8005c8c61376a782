import { randomBytes, randomUUID } from "node:crypto";
import { toLabelqError } from "../../core/errors/errors.ts";
import type { ModelSpec } from "../../core/models/model-registry.ts";
import type { BulkContext } from "./bulk-context.ts";
import type { IntakeRecord, JobRecord } from "../../core/bulk/bulk-store.ts";
import { handOff } from "./hand-off.ts";
import { configuredSubmission } from "./job-steps.ts";
import { assemblyInputPrefix, inputFileName, jsonl, recordMapBody, recordMapKey, recordMapLine } from "./jsonl-files.ts";
import { chunkSizesFor, planBatchRecords, recordsBytes } from "./plan-records.ts";
import { recordItems, resolveBatch } from "./resolve-batch.ts";

/** How long a job may stay "assembling" before another worker takes its assembly over. */
export const ASSEMBLY_STALE_MS = 10 * 60_000;

/** The models the bulk path can submit jobs for: those with batch inference in the catalogue. */
export function bulkModels(ctx: Pick<BulkContext, "settings">): ModelSpec[] {
  return (ctx.settings.catalogue?.models ?? []).filter((m) => m.batch !== undefined);
}

/** The fewest records a job of this model may hold (LABELQ_BULK_MIN_RECORDS overrides the catalogue). */
export function minRecordsFor(ctx: { bulk: Pick<BulkContext["bulk"], "limits"> }, model: Pick<ModelSpec, "batch">): number {
  return ctx.bulk.limits.minRecords ?? model.batch?.minRecordsPerJob ?? 1;
}

/**
 * What to do with a model's waiting batches now (pure):
 *  - flush: enough records for a full job, or the oldest waited the gather time and there are at
 *    least the model's minimum;
 *  - to-live: the oldest waited the gather time with fewer than the minimum: those past it go live,
 *    so nothing waits forever;
 *  - wait: otherwise, or while the model has as many jobs open as the quota allows.
 */
export function gatherDecision(input: {
  records: number;
  oldestWaitedS: number;
  openJobs: number;
  limits: { maxRecordsPerJob: number; maxJobs: number; minRecords: number };
  gatherS: number;
}): "flush" | "to-live" | "wait" {
  const { records, oldestWaitedS, limits } = input;
  if (records === 0) return "wait";
  if (oldestWaitedS >= input.gatherS && records < limits.minRecords) return "to-live";
  if (input.openJobs >= limits.maxJobs) return "wait";
  if (records >= limits.maxRecordsPerJob) return "flush";
  return oldestWaitedS >= input.gatherS ? "flush" : "wait";
}

/** A rough record count of a batch for the gather decision (the exact cut, chunkSizesFor, is made when it is assigned). */
export function roughRecords(intake: IntakeRecord, chunkSize: number): number {
  return Math.ceil(intake.request.items.length / Math.max(1, chunkSize));
}

/**
 * One pass of gathering, per model with batch inference: resume assemblies left stale by a
 * crashed worker, then flush waiting batches into a new job, send them live, or wait.
 *
 * The lists read here (jobs, pending batches, a job's batches) come through the store's index,
 * which on DynamoDB is a GSI and eventually consistent (docs: HowItWorks.ReadConsistency, "All
 * reads from GSIs and streams are eventually consistent"): a row may show a batch as it was, or
 * leave out one that just changed. They only nominate candidates; every step acts on the record
 * read again strongly consistently (findIntake, getJob) and changes it with a write conditional
 * on that read, so a lagging index can neither put a batch in two jobs nor leave a claimed batch
 * out of its job's files.
 */
export async function assembleJobs(ctx: BulkContext, jobs: readonly JobRecord[], signal: AbortSignal): Promise<void> {
  for (const listed of jobs) {
    if (listed.state !== "assembling" || ctx.now() - Date.parse(listed.updatedAt) <= ASSEMBLY_STALE_MS) continue;
    const job = await ctx.store.getJob(listed.jobKey);
    if (job?.state === "assembling" && ctx.now() - Date.parse(job.updatedAt) > ASSEMBLY_STALE_MS) await finishAssembly(ctx, job, signal);
  }
  for (const model of bulkModels(ctx)) {
    signal.throwIfAborted();
    const pending = await ctx.store.pending(model.alias);
    if (pending.length === 0) continue;
    const records = pending.reduce((n, i) => n + roughRecords(i, ctx.settings.chunkSize), 0);
    const oldestWaitedS = (ctx.now() - Date.parse(pending[0]!.receivedAt)) / 1000;
    const openJobs = jobs.filter((j) => j.model === model.alias && j.state !== "done").length;
    const minRecords = minRecordsFor(ctx, model);
    const decision = gatherDecision({ records, oldestWaitedS, openJobs, limits: { ...ctx.bulk.limits, minRecords }, gatherS: ctx.bulk.gatherS });
    if (decision === "to-live") {
      const overdue = pending.filter((i) => (ctx.now() - Date.parse(i.receivedAt)) / 1000 >= ctx.bulk.gatherS);
      for (const listed of overdue) {
        const intake = await stillPending(ctx, listed, model);
        if (!intake) continue;
        await handOff(ctx, intake, "live", {
          message: `${records} records waited ${ctx.bulk.gatherS} s, fewer than the ${minRecords} a ${model.alias} batch inference job needs`,
          code: "MODEL_ERROR",
          modelId: model.modelId,
        });
      }
    } else if (decision === "flush") {
      await newJob(ctx, model, pending, minRecords, signal);
    }
  }
}

/** A batch the index lists as pending, as it is now: undefined when it is no longer pending for this model (the row was stale). */
async function stillPending(ctx: BulkContext, listed: IntakeRecord, model: ModelSpec): Promise<IntakeRecord | undefined> {
  const intake = await ctx.store.findIntake(listed.batchId);
  return intake?.state === "pending" && intake.model === model.alias ? intake : undefined;
}

/** A job key that sorts by time: 20261125T101500Z-3f9a1c. */
function newJobKey(now: number): string {
  return `${new Date(now).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}-${randomBytes(3).toString("hex")}`;
}

/**
 * Create a job record (assembling, with a fresh clientRequestToken) and claim waiting batches into
 * it: each candidate the index listed is read again (strongly consistent), skipped unless still
 * pending, and claimed with a write conditional on that read (a batch another worker took is
 * skipped). The job's files are then written from the batches this worker claimed, not from the
 * index, which may not list them yet. When the claims hold fewer records than the model's minimum
 * because the index counted batches already gone, they are released to pending and the job is
 * dropped before anything is submitted: Bedrock would refuse it.
 */
async function newJob(ctx: BulkContext, model: ModelSpec, pending: readonly IntakeRecord[], minRecords: number, signal: AbortSignal): Promise<void> {
  const now = ctx.now();
  const jobKey = newJobKey(now);
  const base = `${ctx.bulk.prefix}jobs/${jobKey}/`;
  await ctx.store.createJob({
    jobKey,
    model: model.alias,
    modelId: model.modelId,
    state: "assembling",
    clientRequestToken: randomUUID(),
    jobName: `labelq-${jobKey}`.replace(/[^A-Za-z0-9-]/g, "-").slice(0, 63),
    inputPrefix: `${base}input/`,
    outputPrefix: `${base}output/`,
    // On record before anything is submitted: a retry sends these, whatever the configuration says then.
    submission: configuredSubmission(ctx),
    files: [],
    records: 0,
    batches: 0,
    createdAt: new Date(now).toISOString(),
  });
  const { maxRecordsPerJob, maxJobBytes } = ctx.bulk.limits;
  const claimed: IntakeRecord[] = [];
  let records = 0;
  let bytes = 0;
  let stale = 0;
  for (const listed of pending) {
    signal.throwIfAborted();
    if (records >= maxRecordsPerJob) break;
    const intake = await stillPending(ctx, listed, model);
    if (!intake) {
      stale += 1;
      continue;
    }
    try {
      const batch = await resolveBatch(ctx, intake);
      const items = recordItems(intake.request.items, batch);
      const chunks = chunkSizesFor(items, batch.prompt, batch, ctx.settings.chunkSize);
      // The exact UTF-8 size of the batch's lines: the job size quota is in bytes, and a text in
      // Japanese or with emoji takes three or four bytes a character.
      const size = recordsBytes(planBatchRecords(intake.batchId, items, chunks, batch.prompt, batch));
      if (size > maxJobBytes) {
        // No job could hold it: waiting would not help.
        await handOff(ctx, intake, "live", { message: `its records take ${size} bytes, more than a batch inference job may (${maxJobBytes})`, code: "MODEL_ERROR", modelId: model.modelId });
        continue;
      }
      if (records + chunks.length > maxRecordsPerJob || bytes + size > maxJobBytes) break;
      const assigned = await ctx.store.updateIntake(intake, { state: "assigned", jobKey, promptVersion: batch.prompt.version, chunks });
      if (!assigned) continue;
      claimed.push(assigned);
      records += chunks.length;
      bytes += size;
    } catch (error) {
      const e = toLabelqError(error);
      if (e.retryable) throw error;
      // A batch that cannot be planned (its taxonomy is gone, say) will never be: the DLQ, under
      // its error's own code (TAXONOMY_NOT_FOUND stays TAXONOMY_NOT_FOUND) so `labelq dlq --code` finds it.
      await handOff(ctx, intake, "dlq", { message: e.message, code: e.code, modelId: model.modelId });
    }
  }
  const job = await ctx.store.getJob(jobKey);
  if (!job) return;
  // Only when stale rows inflated the count: the next pass counts from an index that has caught
  // up. A shortfall of the rough count itself (texts too long or blank, chunks split to fit) would
  // recur every pass, so that job is submitted as before, and Bedrock's refusal sends it live.
  if (claimed.length > 0 && records < minRecords && stale > 0) {
    await dropJob(ctx, job, claimed, `its batches held ${records} records, fewer than the ${minRecords} a ${model.alias} batch inference job needs`);
    return;
  }
  await finishAssembly(ctx, job, signal, claimed);
}

/**
 * Release a job's claims back to pending and end the job unsubmitted. Should a release lose its
 * race (nothing else changes an assigned batch of an assembling job, so it should not), the job
 * stays assembling and a later pass finishes it with what it holds, so no batch is left in a job
 * that never runs.
 */
async function dropJob(ctx: BulkContext, job: JobRecord, claimed: readonly IntakeRecord[], why: string): Promise<void> {
  let released = 0;
  for (const intake of claimed) {
    if (await ctx.store.updateIntake(intake, { state: "pending", jobKey: undefined, promptVersion: undefined, chunks: undefined })) released += 1;
  }
  if (released < claimed.length) return;
  await ctx.store.updateJob(job, { state: "done", message: `not submitted: ${why}` });
  ctx.logger.info({ jobKey: job.jobKey, model: job.model, batches: claimed.length }, "bulk job dropped before submission; its batches wait for the next");
}

/**
 * The batches assigned to a job whose assembly a crashed worker left: listed through the index,
 * each confirmed by a strongly consistent read (still assigned, to this job). The index has had
 * ASSEMBLY_STALE_MS to catch up with the claims by then.
 */
async function assignedTo(ctx: BulkContext, job: JobRecord): Promise<IntakeRecord[]> {
  const seen = new Set<string>();
  const batches: IntakeRecord[] = [];
  for (const listed of await ctx.store.batchesOf(job.jobKey)) {
    if (seen.has(listed.batchId)) continue;
    seen.add(listed.batchId);
    const intake = await ctx.store.findIntake(listed.batchId);
    if (intake?.state === "assigned" && intake.jobKey === job.jobKey) batches.push(intake);
  }
  return batches;
}

/**
 * Write a job's input files and record map, then mark it submitting. The batches are those this
 * worker just claimed, or, resuming a crashed assembly, those assignedTo finds. Records are
 * numbered 0, 1, 2... in the order written (recordIdAt); the record map says what each number
 * stands for. Files and map go to a folder of this assembly's own (assemblyInputPrefix), named on
 * the job record by the same conditional write that moves it to submitting: should two workers
 * finish one assembly, the record map of the one that wins describes the files it submits. A job
 * with no batch (they were all taken elsewhere) is done at once.
 */
export async function finishAssembly(ctx: BulkContext, job: JobRecord, signal: AbortSignal, claimed?: readonly IntakeRecord[]): Promise<JobRecord | undefined> {
  const batches = claimed ?? (await assignedTo(ctx, job));
  if (batches.length === 0) return ctx.store.updateJob(job, { state: "done", message: "no batch was assigned to the job" });
  const assembly = randomBytes(4).toString("hex");
  const inputPrefix = assemblyInputPrefix(job.inputPrefix, assembly);
  const files: string[] = [];
  const map: string[] = [];
  let lines: string[] = [];
  let bytes = 0;
  let records = 0;
  const flush = async () => {
    if (lines.length === 0) return;
    const key = `${inputPrefix}${inputFileName(files.length + 1)}`;
    await ctx.objects.put(key, jsonl(lines));
    files.push(key);
    lines = [];
    bytes = 0;
  };
  for (const intake of batches) {
    signal.throwIfAborted();
    const batch = await resolveBatch(ctx, intake);
    for (const record of planBatchRecords(intake.batchId, recordItems(intake.request.items, batch), intake.chunks ?? [], batch.prompt, batch, records)) {
      if (lines.length >= ctx.bulk.limits.maxRecordsPerFile || (lines.length > 0 && bytes + record.bytes > ctx.bulk.limits.maxFileBytes)) await flush();
      lines.push(record.line);
      bytes += record.bytes;
      map.push(recordMapLine({ recordId: record.recordId, batchId: intake.batchId, chunk: record.chunk, textIds: record.items.map((it) => it.id) }));
      records += 1;
    }
  }
  await flush();
  const recordMap = recordMapKey(job.inputPrefix, assembly);
  await ctx.objects.put(recordMap, recordMapBody(map));
  // The files are in this worker's bucket: the job is submitted from there. Only an assembly
  // resumed by a worker configured with another bucket changes it; role and timeout stay as recorded.
  const submission = { ...(job.submission ?? configuredSubmission(ctx)), bucket: ctx.objects.bucket };
  const next = await ctx.store.updateJob(job, { state: "submitting", inputPrefix, files, records, batches: batches.length, recordMap, submission });
  if (next) ctx.logger.info({ jobKey: job.jobKey, model: job.model, batches: batches.length, records, files: files.length, recordMap }, "bulk job assembled");
  return next;
}
