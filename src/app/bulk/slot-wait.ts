import type { JobRecord } from "../../core/bulk/bulk-store.ts";
import { bulkModels } from "./assemble-jobs.ts";
import type { BulkContext } from "./bulk-context.ts";
import { overdueForSlot } from "./bulk-policy.ts";
import { handOff } from "./hand-off.ts";

/** Batches of one model waiting for a job slot, for the labelq_bulk_batches_waiting_for_slot gauge. */
export interface SlotWait {
  model: string;
  batches: number;
}

/** The jobs of a model that count against LABELQ_BULK_MAX_JOBS: every one not done, as the gathering counts them. */
export function openJobsOf(jobs: readonly JobRecord[], model: string): number {
  return jobs.filter((j) => j.model === model && j.state !== "done").length;
}

/**
 * One pass over the models with batch inference: where a model has LABELQ_BULK_MAX_JOBS jobs open,
 * its batches that have waited LABELQ_BULK_MAX_WAIT_S since they were taken in go to the live path
 * (overdueForSlot), and the rest are counted as waiting for a slot; a model with a free slot counts
 * none. A hand-off that fails is left handing-off, and finishHandOffs sends it on a later pass.
 */
export async function releaseSlotWaiters(ctx: BulkContext, jobs: readonly JobRecord[], signal: AbortSignal): Promise<SlotWait[]> {
  const waits: SlotWait[] = [];
  const { maxJobs } = ctx.bulk.limits;
  for (const model of bulkModels(ctx)) {
    signal.throwIfAborted();
    const openJobs = openJobsOf(jobs, model.alias);
    if (openJobs < maxJobs) {
      waits.push({ model: model.alias, batches: 0 });
      continue;
    }
    const pending = await ctx.store.pending(model.alias);
    const overdue = overdueForSlot(pending, { openJobs, maxJobs, maxWaitS: ctx.bulk.maxWaitS, now: ctx.now() });
    let released = 0;
    for (const intake of overdue) {
      signal.throwIfAborted();
      try {
        const sent = await handOff(ctx, intake, "live", {
          message: `waited ${ctx.bulk.maxWaitS} s (LABELQ_BULK_MAX_WAIT_S) for a job slot while ${model.alias} had ${openJobs} jobs open (LABELQ_BULK_MAX_JOBS ${maxJobs})`,
          code: "MODEL_ERROR",
          modelId: model.modelId,
        });
        if (sent) released += 1;
      } catch (error) {
        if (signal.aborted) throw error;
        ctx.logger.warn({ err: error, batchId: intake.batchId }, "could not hand a bulk batch waiting for a job slot to the live path; trying again on the next pass");
      }
    }
    if (overdue.length > 0) ctx.logger.warn({ model: model.alias, openJobs, released, waiting: pending.length - released }, "bulk batches waited too long for a job slot and went live");
    waits.push({ model: model.alias, batches: pending.length - released });
  }
  return waits;
}
