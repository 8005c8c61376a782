import { randomBytes, randomUUID } from "node:crypto";
import { toLabelqError } from "../../core/errors/errors.ts";
import type { ModelSpec } from "../../core/models/model-registry.ts";
import type { BulkContext } from "./bulk-context.ts";
import type { IntakeRecord, JobRecord } from "../../core/bulk/bulk-store.ts";
import { handOff } from "./hand-off.ts";
import { inputFileName, jsonl } from "./jsonl-files.ts";
import { chunkSizesFor, planBatchRecords } from "./plan-records.ts";
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
 */
export async function assembleJobs(ctx: BulkContext, jobs: readonly JobRecord[], signal: AbortSignal): Promise<void> {
  for (const job of jobs) {
    if (job.state === "assembling" && ctx.now() - Date.parse(job.updatedAt) > ASSEMBLY_STALE_MS) await finishAssembly(ctx, job, signal);
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
      for (const intake of overdue) {
        await handOff(ctx, intake, "live", {
          message: `${records} records waited ${ctx.bulk.gatherS} s, fewer than the ${minRecords} a ${model.alias} batch inference job needs`,
          code: "MODEL_ERROR",
          modelId: model.modelId,
        });
      }
    } else if (decision === "flush") {
      await newJob(ctx, model, pending, signal);
    }
  }
}

/** A job key that sorts by time: 20261125T101500Z-3f9a1c. */
function newJobKey(now: number): string {
  return `${new Date(now).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}-${randomBytes(3).toString("hex")}`;
}

/**
 * Create a job record (assembling, with a fresh clientRequestToken), assign waiting batches to it
 * one conditional write each (a batch another worker took is skipped), then write its files.
 */
async function newJob(ctx: BulkContext, model: ModelSpec, pending: readonly IntakeRecord[], signal: AbortSignal): Promise<void> {
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
    files: [],
    records: 0,
    batches: 0,
    createdAt: new Date(now).toISOString(),
  });
  let records = 0;
  let bytes = 0;
  for (const intake of pending) {
    signal.throwIfAborted();
    if (records >= ctx.bulk.limits.maxRecordsPerJob) break;
    try {
      const batch = await resolveBatch(ctx, intake);
      const chunks = chunkSizesFor(recordItems(intake.request.items, batch), batch.prompt, batch, ctx.settings.chunkSize);
      // Roughly a record per chunk, the system prompt in each: stop before the job's byte limit.
      const estimate = chunks.length * (batch.prompt.system.length + 2_000) + intake.request.items.reduce((n, it) => n + it.text.length, 0);
      if (records + chunks.length > ctx.bulk.limits.maxRecordsPerJob || bytes + estimate > ctx.bulk.limits.maxJobBytes) break;
      const assigned = await ctx.store.updateIntake(intake, { state: "assigned", jobKey, promptVersion: batch.prompt.version, chunks });
      if (!assigned) continue;
      records += chunks.length;
      bytes += estimate;
    } catch (error) {
      const e = toLabelqError(error);
      if (e.retryable) throw error;
      // A batch that cannot be planned (its taxonomy is gone, say) will never be: the DLQ.
      await handOff(ctx, intake, "dlq", { message: e.message, code: "MODEL_REJECTED_REQUEST", modelId: model.modelId });
    }
  }
  const job = await ctx.store.getJob(jobKey);
  if (job) await finishAssembly(ctx, job, signal);
}

/**
 * Write the input files of a job from the batches assigned to it (deterministic: a worker
 * resuming a crashed assembly writes the same files), then mark it submitting. A job with no
 * batch (they were all taken elsewhere) is done at once.
 */
export async function finishAssembly(ctx: BulkContext, job: JobRecord, signal: AbortSignal): Promise<JobRecord | undefined> {
  const batches = (await ctx.store.batchesOf(job.jobKey)).filter((b) => b.state === "assigned");
  if (batches.length === 0) return ctx.store.updateJob(job, { state: "done", message: "no batch was assigned to the job" });
  const files: string[] = [];
  let lines: string[] = [];
  let bytes = 0;
  let records = 0;
  const flush = async () => {
    if (lines.length === 0) return;
    const key = `${job.inputPrefix}${inputFileName(files.length + 1)}`;
    await ctx.objects.put(key, jsonl(lines));
    files.push(key);
    lines = [];
    bytes = 0;
  };
  for (const intake of batches) {
    signal.throwIfAborted();
    const batch = await resolveBatch(ctx, intake);
    for (const record of planBatchRecords(intake.batchId, recordItems(intake.request.items, batch), intake.chunks ?? [], batch.prompt, batch)) {
      const size = Buffer.byteLength(record.line, "utf8") + 1;
      if (lines.length >= ctx.bulk.limits.maxRecordsPerFile || (lines.length > 0 && bytes + size > ctx.bulk.limits.maxFileBytes)) await flush();
      lines.push(record.line);
      bytes += size;
      records += 1;
    }
  }
  await flush();
  const next = await ctx.store.updateJob(job, { state: "submitting", files, records, batches: batches.length });
  if (next) ctx.logger.info({ jobKey: job.jobKey, model: job.model, batches: batches.length, records, files: files.length }, "bulk job assembled");
  return next;
}
