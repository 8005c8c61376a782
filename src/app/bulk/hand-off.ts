import { type ErrorCode, LabelqError, ModelCallError } from "../../core/errors/errors.ts";
import type { BulkContext } from "./bulk-context.ts";
import type { IntakeRecord } from "../../core/bulk/bulk-store.ts";

/** Why a batch leaves the bulk path, and the error code its DLQ entry carries. */
export interface HandOffReason {
  message: string;
  /**
   * The code of the error that sent it (BATCH_ID_CONFLICT, TAXONOMY_NOT_FOUND, ...), kept as it is
   * so `labelq dlq --code` finds it; for a job that ended without labelling the batch,
   * MODEL_TIMEOUT (expired), MODEL_REJECTED_REQUEST (refused at submission) or MODEL_ERROR.
   */
  code: ErrorCode;
  modelId: string;
}

type ModelCode = ConstructorParameters<typeof ModelCallError>[0];
const MODEL_CODES: readonly ErrorCode[] = ["MODEL_THROTTLED", "MODEL_QUOTA_EXHAUSTED", "MODEL_UNAVAILABLE", "MODEL_TIMEOUT", "MODEL_REJECTED_REQUEST", "MODEL_ERROR"] satisfies ModelCode[];
const isModelCode = (code: ErrorCode): code is ModelCode => MODEL_CODES.includes(code);

/** The error a DLQ entry carries: a model call's (with its model id) for a model code, the code as it came otherwise. */
function dlqError(code: ErrorCode, modelId: string, message: string): LabelqError {
  if (isModelCode(code)) return new ModelCallError(code, modelId, message);
  // Not retryable: nothing sends it back by itself; an operator replays it once the cause is fixed.
  return new LabelqError(code, message, false);
}

/**
 * Send a bulk batch to the live path (its request again on the requests queue, with mode
 * "live") or to the DLQ with the reason. The record is marked handing-off first and final after:
 * a crash or a failed send in between leaves it handing-off, and it is sent again (by collectJob
 * for a batch of a job, by finishHandOffs for one taken from pending). A second live delivery is
 * not absorbed: if the first was labelled and published, the live path publishes its stored
 * result again (at least once). Returns false when another worker moved the record first.
 */
export async function handOff(ctx: BulkContext, intake: IntakeRecord, to: "live" | "dlq", why: HandOffReason): Promise<boolean> {
  const marked = intake.state === "handing-off" ? intake : await ctx.store.updateIntake(intake, { state: "handing-off", handOffTo: to, reason: why.message, handOffCode: why.code });
  if (!marked) return false;
  // A resumed hand-off goes where, and with the reason and code, the first attempt recorded: the
  // caller resuming it (collectJob, finishHandOffs) no longer knows why the batch was sent.
  const destination = marked.handOffTo ?? to;
  const log = ctx.logger.child({ batchId: intake.batchId, jobKey: intake.jobKey });
  if (destination === "live") await ctx.outbox.toLive({ ...marked.request, mode: "live" });
  else await ctx.outbox.toDlq(marked.request, dlqError(marked.handOffCode ?? why.code, why.modelId, marked.reason ?? why.message));
  const final = await ctx.store.updateIntake(marked, { state: destination === "live" ? "live" : "dead-lettered" });
  ctx.metrics?.bulkBatches.inc({ outcome: destination === "live" ? "live" : "dead-lettered", model: intake.model });
  log.warn({ to: destination, reason: marked.reason ?? why.message }, destination === "live" ? "bulk batch handed to the live path" : "bulk batch sent to the DLQ");
  return final !== undefined;
}

/**
 * Finish the hand-offs of batches taken from pending (too few records, a batch that cannot be
 * planned) that a crash or a failed send left handing-off. A batch that fails again waits for
 * the next pass.
 */
export async function finishHandOffs(ctx: BulkContext, signal: AbortSignal): Promise<void> {
  for (const intake of await ctx.store.handingOff()) {
    signal.throwIfAborted();
    const modelId = ctx.settings.catalogue?.models.find((m) => m.alias === intake.model)?.modelId ?? intake.model;
    const to = intake.handOffTo ?? "live";
    try {
      // The record keeps the reason and the code of the error that sent the batch (handOff reads
      // them from it); a record written before the code was kept is dead-lettered as
      // MODEL_REJECTED_REQUEST, with its reason.
      await handOff(ctx, intake, to, { message: intake.reason ?? "handed off from the bulk path", code: intake.handOffCode ?? (to === "dlq" ? "MODEL_REJECTED_REQUEST" : "MODEL_ERROR"), modelId });
    } catch (error) {
      if (signal.aborted) throw error;
      ctx.logger.warn({ err: error, batchId: intake.batchId }, "could not hand off a bulk batch; trying again on the next pass");
    }
  }
}
