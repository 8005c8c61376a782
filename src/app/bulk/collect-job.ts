import type { LabelResult } from "../../core/contracts/result.ts";
import { InvalidRequestError, LabelqError, StoreError, toLabelqError } from "../../core/errors/errors.ts";
import { systemClock } from "../../core/util/clock.ts";
import { claimBatch } from "../../core/idempotency/claim-batch.ts";
import { cacheExpiresAt } from "../../core/cache/cache-expiry.ts";
import type { BulkContext } from "./bulk-context.ts";
import { bulkCacheEntries, bulkResult } from "./bulk-result.ts";
import { FINAL_INTAKE_STATES, type IntakeRecord, type JobRecord, type JobSummary } from "../../core/bulk/bulk-store.ts";
import type { HandOffReason } from "./hand-off.ts";
import { handOff } from "./hand-off.ts";
import { COMPLETED_STATUSES } from "../../adapters/bedrock/job-control.ts";
import { type OutputRead, readJobOutput } from "./read-output.ts";
import { recordItems, type ResolvedBatch, resolveBatch } from "./resolve-batch.ts";
import { type BatchOutput, sortBatchOutput } from "./sort-batch-output.ts";

/**
 * Collect an ended job, one collector at a time (a lease on the job record, renewed while it
 * works): read its output, then for every batch not yet settled
 *  - sort its records as live answers are sorted (repair, validate per text);
 *  - write the label cache for the texts labelled;
 *  - re-ask the rest on the live path (labelRoutedBatch), or, when the job failed before
 *    labelling any of its texts, hand the batch to the live path or the DLQ;
 *  - record and publish the result exactly as the live path does (claim, complete, publish).
 * A batch that fails for a retryable reason is left for the next pass. The job is done when
 * every batch is. A collector that loses its lease (it stalled past it, and another worker took
 * the job) stops where it is: the other worker settles the rest.
 */
export async function collectJob(ctx: BulkContext, job: JobRecord, signal: AbortSignal): Promise<JobRecord | undefined> {
  const now = ctx.now();
  if (job.collector && job.collector.owner !== ctx.owner && job.collector.until > now) return undefined;
  const leased = await ctx.store.updateJob(job, { collector: { owner: ctx.owner, until: now + ctx.leaseMs } });
  if (!leased) return undefined;
  const lease = holdCollectorLease(ctx, leased);
  try {
    return await collectLeased(ctx, leased, lease, AbortSignal.any([signal, lease.lost]));
  } catch (error) {
    if (signal.aborted || !lease.lost.aborted) throw error;
    ctx.logger.warn({ jobKey: job.jobKey }, "lost the collector lease on the bulk job; the worker that took it settles the rest");
    return undefined;
  } finally {
    await lease.stop();
  }
}

/** This worker's hold on a job's collection: `lost` aborts when another worker holds it, or it ran out unrenewed. */
interface CollectorLease {
  lost: AbortSignal;
  /** Stop renewing (resolves once a renewal in flight has ended). */
  stop(): Promise<void>;
}

/**
 * Renew the collector lease every third of its length until stopped, like the worker's batch
 * lease: live re-asks of the records a job did not answer can outlast one lease. A renewal that
 * fails (the store unreachable) is tried again at the next tick; the lease counts as lost once
 * its time has run out without one, or at once when another worker holds it.
 */
function holdCollectorLease(ctx: BulkContext, job: JobRecord): CollectorLease {
  const lost = new AbortController();
  const stopped = new AbortController();
  const clock = ctx.clock ?? systemClock;
  const everyMs = Math.max(1, Math.floor(ctx.leaseMs / 3));
  let until = job.collector?.until ?? ctx.now() + ctx.leaseMs;
  const lose = (why: string) => lost.abort(new LabelqError("LEASE_LOST", `Lost the collector lease on bulk job ${job.jobKey}: ${why}`, true));
  const renewing = (async () => {
    while (!stopped.signal.aborted && !lost.signal.aborted) {
      try {
        await clock.sleep(everyMs, stopped.signal);
      } catch {
        return;
      }
      try {
        const renewed = await renewCollector(ctx, job.jobKey);
        if (renewed === "lost") lose("another worker holds it");
        else until = renewed;
      } catch (error) {
        ctx.logger.warn({ err: error, jobKey: job.jobKey }, "could not renew the collector lease on the bulk job; trying again");
      }
      if (!lost.signal.aborted && ctx.now() >= until) lose("it ran out before it could be renewed");
    }
  })();
  return {
    lost: lost.signal,
    stop: async () => {
      stopped.abort();
      await renewing;
    },
  };
}

/** Extend this worker's collector lease from now; "lost" when the job is gone or another worker holds it. */
async function renewCollector(ctx: BulkContext, jobKey: string): Promise<number | "lost"> {
  // Only this collector writes the job record while it holds the lease; a lost race is read again.
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = await ctx.store.getJob(jobKey);
    if (current?.collector?.owner !== ctx.owner) return "lost";
    const until = ctx.now() + ctx.leaseMs;
    if (await ctx.store.updateJob(current, { collector: { owner: ctx.owner, until } })) return until;
  }
  throw new StoreError(`Could not renew the collector lease on bulk job ${jobKey}: its record kept changing`);
}

/** Collection under a held lease; `signal` aborts on shutdown or when the lease is lost. */
async function collectLeased(ctx: BulkContext, leased: JobRecord, lease: CollectorLease, signal: AbortSignal): Promise<JobRecord | undefined> {
  const log = ctx.logger.child({ jobKey: leased.jobKey, status: leased.bedrockStatus });
  const output = await readJobOutput(ctx, leased);
  const completed = COMPLETED_STATUSES.has(leased.bedrockStatus ?? "");
  const failure = failureOf(leased);
  const summary: JobSummary = {
    answeredRecords: 0,
    failedRecords: 0,
    missingRecords: 0,
    malformedLines: output.malformedLines,
    labelledTexts: 0,
    reaskedTexts: 0,
    publishedBatches: 0,
    liveBatches: 0,
    deadLetteredBatches: 0,
    costUsd: 0,
  };
  let unsettled = 0;
  for (const intake of await ctx.store.batchesOf(leased.jobKey)) {
    signal.throwIfAborted();
    try {
      const settled = await collectBatch(ctx, intake, output, completed, failure, summary, signal);
      if (!settled) unsettled += 1;
    } catch (error) {
      if (signal.aborted) throw error;
      const e = toLabelqError(error);
      if (!e.retryable && intake.state !== "handing-off") {
        // It can never be published as it is (a conflicting batchId, a request the model refuses):
        // the DLQ, under the error's own code (BATCH_ID_CONFLICT stays BATCH_ID_CONFLICT).
        const latest = await ctx.store.findIntake(intake.batchId);
        if (latest && !FINAL_INTAKE_STATES.includes(latest.state)) {
          await handOff(ctx, latest, "dlq", { message: e.message, code: e.code, modelId: leased.modelId });
          summary.deadLetteredBatches += 1;
          continue;
        }
      }
      unsettled += 1;
      log.warn({ err: error, batchId: intake.batchId }, "could not settle a bulk batch; trying again on the next pass");
    }
  }
  // No renewal may race the last write; a lease lost meanwhile leaves the job to its new collector.
  await lease.stop();
  signal.throwIfAborted();
  const latest = await ctx.store.getJob(leased.jobKey);
  if (!latest || latest.collector?.owner !== ctx.owner) return undefined;
  if (unsettled > 0) return ctx.store.updateJob(latest, { collector: undefined });
  summary.costUsd = Math.round(summary.costUsd * 1e6) / 1e6;
  const done = await ctx.store.updateJob(latest, { state: "done", collector: undefined, summary });
  if (done) {
    // Counted once, by the collector that finished the job (a pass that leaves batches unsettled reads the output again).
    ctx.metrics?.bulkRecords.inc({ outcome: "malformed", model: leased.model }, output.malformedLines);
    log.info({ ...summary }, "bulk job collected");
  }
  return done;
}

/** Why the batches of a job that ended without labelling them leave the bulk path. */
function failureOf(job: JobRecord): HandOffReason {
  const status = job.bedrockStatus ?? "Failed";
  const message = `bulk job ${job.jobKey} ${status === "Expired" ? "expired" : status === "Stopped" ? "was stopped" : "failed"}${job.message ? `: ${job.message}` : ""}`;
  const refused = job.jobArn === undefined;
  return { message, code: status === "Expired" ? "MODEL_TIMEOUT" : refused ? "MODEL_REJECTED_REQUEST" : "MODEL_ERROR", modelId: job.modelId };
}

/** Settle one batch of a collected job; false when it must wait for a later pass. */
async function collectBatch(
  ctx: BulkContext,
  intake: IntakeRecord,
  output: OutputRead,
  completed: boolean,
  failure: HandOffReason,
  summary: JobSummary,
  signal: AbortSignal,
): Promise<boolean> {
  if (intake.state === "handing-off") return handOff(ctx, intake, ctx.bulk.onJobFailure, failure);
  const batch = await resolveBatch(ctx, intake);
  const sorted = sortBatchOutput(intake.batchId, recordItems(intake.request.items, batch), intake.chunks ?? [], output.records, batch.prompt, batch.model);
  summary.answeredRecords += sorted.records.answered;
  summary.failedRecords += sorted.records.failed;
  summary.missingRecords += sorted.records.missing;
  summary.costUsd += sorted.usage.costUsd;
  if (FINAL_INTAKE_STATES.includes(intake.state)) {
    countSettledBefore(intake, sorted, summary);
    return true;
  }
  // A batch's records are counted once, when it settles (a batch left for a later pass is read again then).
  const countRecords = () => {
    for (const outcome of ["answered", "failed", "missing"] as const) ctx.metrics?.bulkRecords.inc({ outcome, model: batch.model.alias }, sorted.records[outcome]);
  };
  if (sorted.labelled.length === 0 && !completed) {
    const sent = await handOff(ctx, intake, ctx.bulk.onJobFailure, failure);
    if (sent) {
      summary[ctx.bulk.onJobFailure === "live" ? "liveBatches" : "deadLetteredBatches"] += 1;
      countRecords();
    }
    return sent;
  }
  const published = await publishOnce(ctx, intake, await labelBatchResult(ctx, intake, batch, sorted, signal));
  if (published) {
    countRecords();
    summary.publishedBatches += 1;
    summary.labelledTexts += sorted.labelled.length;
    summary.reaskedTexts += sorted.unlabelled.length;
  }
  return published;
}

/** Count in the summary a batch an earlier pass (or the live path) already settled. */
function countSettledBefore(intake: IntakeRecord, sorted: BatchOutput, summary: JobSummary): void {
  if (intake.state === "done") summary.publishedBatches += 1;
  else if (intake.state === "live") summary.liveBatches += 1;
  else summary.deadLetteredBatches += 1;
  summary.labelledTexts += sorted.labelled.length;
  if (intake.state === "done") summary.reaskedTexts += sorted.unlabelled.length;
}

/** The batch's result: the job's labels (written to the label cache) and, for the texts it did not label, a live re-ask. */
async function labelBatchResult(ctx: BulkContext, intake: IntakeRecord, batch: ResolvedBatch, sorted: BatchOutput, signal: AbortSignal): Promise<LabelResult> {
  const receivedAt = new Date(intake.receivedAt);
  if (sorted.labelled.length > 0 && ctx.cache && (intake.request.cache ?? "use") !== "bypass") {
    const expiresAt = cacheExpiresAt(ctx.now(), ctx.settings.cacheTtlDays);
    await ctx.cache.putMany(bulkCacheEntries(intake.request, batch.taxonomy, sorted.labelled, batch.prompt, batch.model, batch.inference, expiresAt), signal);
  }
  let reask: LabelResult | undefined;
  if (sorted.unlabelled.length > 0) {
    const ids = new Set(sorted.unlabelled.map((p) => p.id));
    const items = intake.request.items.filter((it) => ids.has(it.id));
    ctx.metrics?.bulkReasked.inc({ model: batch.model.alias }, items.length);
    ctx.logger.info({ batchId: intake.batchId, texts: items.length }, "re-asking live the texts the bulk job did not label");
    // The same request for those texts only, at the prompt version its records were built with.
    reask = await ctx.label({ ...intake.request, mode: "live", promptVersion: batch.prompt.version, items }, receivedAt, signal);
  }
  return bulkResult({ request: intake.request, output: sorted, reask, ...batch, receivedAt, completedAt: new Date(ctx.now()) });
}

/**
 * Record and publish a batch's result once, through the batch records the live path uses:
 *   intake assigned -> publishing      (conditional: one collector wins)
 *   claim the batch record             leased: complete it with the result, publish, intake done
 *                                      completed, intake was already publishing: this collector
 *                                        crashed after completing it; publish the stored result
 *                                      completed, intake was assigned: the live path labelled and
 *                                        published it (a duplicate message routed live); done
 *                                      in-progress: the live path is at it; look again next pass
 * A crash after publishing and before "done" publishes again on the next pass: at least once, the
 * same window as the live path between publishing and deleting the message.
 */
async function publishOnce(ctx: BulkContext, intake: IntakeRecord, result: LabelResult): Promise<boolean> {
  const wasPublishing = intake.state === "publishing";
  const publishing = wasPublishing ? intake : await ctx.store.updateIntake(intake, { state: "publishing" });
  if (!publishing) return false;
  const log = ctx.logger.child({ batchId: intake.batchId, jobKey: intake.jobKey });
  const claim = await claimBatch(ctx.idempotency, { batchId: intake.batchId, payloadHash: intake.payloadHash, owner: ctx.owner, leaseMs: ctx.leaseMs }, log);
  switch (claim.kind) {
    case "in-progress":
      return false;
    case "conflict":
      throw new InvalidRequestError(`batchId ${intake.batchId} was already used for a different payload; use a new batchId`, [], "BATCH_ID_CONFLICT");
    case "completed":
      if (wasPublishing) await ctx.outbox.publish(intake.replyTo, claim.result);
      else log.info("batch was labelled on the live path meanwhile; not published twice");
      break;
    case "leased":
      if (!(await claim.lease.complete(result))) return false;
      await ctx.outbox.publish(intake.replyTo, result);
      break;
  }
  await ctx.store.updateIntake(publishing, { state: "done" });
  ctx.metrics?.bulkBatches.inc({ outcome: "published", model: intake.model });
  log.info({ status: result.status, items: result.items.length, costUsd: result.usage.costUsd }, "bulk batch published");
  return true;
}
