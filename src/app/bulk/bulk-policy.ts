import type { RequestMode } from "../../core/contracts/request.ts";
import { InvalidRequestError } from "../../core/errors/errors.ts";
import type { ModelSpec } from "../../core/models/model-registry.ts";

/** Where a batch is labelled, and why (logged with the batch). */
export interface ModeDecision {
  mode: "live" | "bulk";
  reason: string;
}

/** What the auto policy weighs. Defaults and their reasons: docs/bulk.md, "When auto picks bulk". */
export interface PolicySettings {
  /** Bulk only when the backlog would take at least this long to drain at the on-demand quota (LABELQ_BULK_MIN_BACKLOG_S, 3,600). */
  minBacklogS: number;
  /** Expected time from submitting a job to its output (LABELQ_BULK_TURNAROUND_S, 6 h). */
  turnaroundS: number;
  /** Longest a batch waits to be gathered into a job (LABELQ_BULK_GATHER_S, 900). */
  gatherS: number;
}

export interface PolicyInput {
  requested: RequestMode | undefined;
  /** False when this worker has no bulk bucket and role configured. */
  bulkEnabled: boolean;
  model: Pick<ModelSpec, "alias" | "batch">;
  /** Texts waiting before this batch: the request queue's backlog and the batches waiting for a job. */
  backlogTexts: number;
  /**
   * What a text costs live, priced only when the decision needs it (auto, bulk path and batch
   * inference available, no close deadline, a quota configured and a backlog): pricing tokenizes.
   */
  liveCost: () => LiveCost;
  /** The model's on-demand quota; 0 = unknown. */
  quota: { rpm: number; tpm: number };
  /** The request's deadline (ISO 8601), if any. */
  deadline?: string;
  now: number;
  settings: PolicySettings;
}

/** What labelling live costs per text, for the drain time. */
export interface LiveCost {
  /** Quota tokens one text costs live: its share of a call's input plus its output reserve (planCall). */
  tokensPerText: number;
  /** Texts per live call (the chunk size). */
  textsPerCall: number;
}

/**
 * Seconds the backlog takes to drain live at the model's on-demand quota: the binding one of
 * tokens per minute and requests per minute; undefined when no quota is configured (unknown).
 */
export function drainSeconds(input: Pick<PolicyInput, "backlogTexts" | "quota"> & LiveCost): number | undefined {
  const { backlogTexts, tokensPerText, textsPerCall, quota } = input;
  const byTokens = quota.tpm > 0 ? ((backlogTexts * tokensPerText) / quota.tpm) * 60 : undefined;
  const byRequests = quota.rpm > 0 ? (Math.ceil(backlogTexts / Math.max(1, textsPerCall)) / quota.rpm) * 60 : undefined;
  if (byTokens === undefined && byRequests === undefined) return undefined;
  return Math.max(byTokens ?? 0, byRequests ?? 0);
}

/** The refusal of `mode: "bulk"` by a worker without the bulk path: never retried, to the DLQ with its reason. */
export function bulkUnavailable(): InvalidRequestError {
  return new InvalidRequestError('mode "bulk" is not available on this worker: the bulk path needs LABELQ_BULK_BUCKET and LABELQ_BULK_ROLE_ARN');
}

/**
 * Decide live or bulk for one batch. Pure: the same input always decides the same way.
 *  - live: live.
 *  - bulk: bulk, unless the deadline is too close (a late result is worth less than a dearer one).
 *    A model without batch inference, or a worker without the bulk path, is a bad request:
 *    InvalidRequestError, to the DLQ, never retried.
 *  - auto (default): bulk only when the worker has the bulk path, the model has batch inference
 *    (catalogue), the backlog would take at least minBacklogS to drain at the on-demand quota, and
 *    the deadline (if any) leaves at least the gather time plus the expected turnaround.
 */
export function decideMode(input: PolicyInput): ModeDecision {
  const requested = input.requested ?? "auto";
  if (requested === "live") return { mode: "live", reason: "the request asked for live" };
  const { model, settings } = input;
  const neededS = settings.gatherS + settings.turnaroundS;
  const leftS = input.deadline === undefined ? undefined : (Date.parse(input.deadline) - input.now) / 1000;
  const tooClose = leftS !== undefined && leftS < neededS;
  const deadlineReason = `the deadline is ${Math.round(leftS ?? 0)} s away, less than the gather time plus the expected bulk turnaround (${neededS} s)`;

  if (requested === "bulk") {
    if (!input.bulkEnabled) {
      throw bulkUnavailable();
    }
    if (!model.batch) {
      throw new InvalidRequestError(`mode "bulk": model "${model.alias}" has no batch inference (no batch prices in the model catalogue); use mode "live" or "auto", or a model with batch inference`);
    }
    if (tooClose) return { mode: "live", reason: deadlineReason };
    return { mode: "bulk", reason: "the request asked for bulk" };
  }

  if (!input.bulkEnabled) return { mode: "live", reason: "the bulk path is not configured" };
  if (!model.batch) return { mode: "live", reason: `${model.alias} has no batch inference` };
  if (tooClose) return { mode: "live", reason: deadlineReason };
  const { backlogTexts, quota } = input;
  const known = quota.tpm > 0 || quota.rpm > 0;
  // Without a quota the cost cannot matter, and an empty backlog drains at once whatever it costs.
  const drainS = !known ? undefined : backlogTexts === 0 ? 0 : drainSeconds({ backlogTexts, quota, ...input.liveCost() });
  if (drainS === undefined) return { mode: "live", reason: "no on-demand quota is configured for the model, so the backlog's drain time is unknown" };
  if (drainS < settings.minBacklogS) {
    return { mode: "live", reason: `the backlog drains live in ~${Math.round(drainS)} s, under the ${settings.minBacklogS} s that makes bulk worth its turnaround` };
  }
  return { mode: "bulk", reason: `the backlog (~${input.backlogTexts} texts) would take ~${Math.round(drainS)} s to drain at the on-demand quota` };
}

/**
 * Which of a model's waiting batches leave for the live path because no job slot freed in time
 * (pure): none while the model has fewer than `maxJobs` jobs open (they are being gathered, and
 * the gather time bounds that), else every batch taken in at least `maxWaitS` ago. A job slot
 * frees only when a job ends, which can take its whole timeout (24 h by default): without this
 * bound a batch of a full model would wait that long.
 */
export function overdueForSlot<T extends { receivedAt: string }>(pending: readonly T[], input: { openJobs: number; maxJobs: number; maxWaitS: number | undefined; now: number }): T[] {
  if (input.maxWaitS === undefined || input.openJobs < input.maxJobs) return [];
  const { maxWaitS, now } = input;
  return pending.filter((b) => (now - Date.parse(b.receivedAt)) / 1000 >= maxWaitS);
}
