import { drainSeconds } from "../bulk/bulk-policy.ts";
import { costUsd } from "../../core/models/model-registry.ts";
import type { Estimate, ModelEstimate } from "./estimate.ts";

/** Live against bulk for one model: cost and expected time to the last result. */
export interface LiveVsBulk {
  alias: string;
  liveCostUsd: number;
  /** Undefined: the model has no batch inference. */
  bulkCostUsd: number | undefined;
  /** Seconds to drain the file live at the model's on-demand quota; undefined without a configured quota. */
  liveSeconds: number | undefined;
  /** Gather time plus the expected turnaround of a job (LABELQ_BULK_GATHER_S + LABELQ_BULK_TURNAROUND_S). */
  bulkSeconds: number | undefined;
  /** Jobs the file makes at the per-job records limit, and whether it reaches the model's minimum. */
  jobs: number;
  belowMinimum: boolean;
}

/**
 * Live against bulk for each model of an estimate (estimateRun: one clean pass, no cache hits):
 * the same tokens at on-demand and at batch prices (catalogue `batch`), and the expected time to
 * the last result. Pure.
 */
export function liveVsBulk(
  estimate: Estimate,
  options: {
    quotaFor: (alias: string) => { rpm: number; tpm: number };
    gatherS: number;
    turnaroundS: number;
    maxRecordsPerJob: number;
    minRecords?: number;
  },
): LiveVsBulk[] {
  return estimate.models.map((m: ModelEstimate) => {
    const batch = m.model.batch;
    const quota = options.quotaFor(m.model.alias);
    const perCall = Math.max(1, Math.round(estimate.texts / Math.max(1, m.calls)));
    const liveSeconds = drainSeconds({ backlogTexts: estimate.texts, tokensPerText: m.quotaTokens / Math.max(1, estimate.texts), textsPerCall: perCall, quota });
    const bulkCost = batch ? (m.inputTokens / 1000) * batch.inputPer1k + (m.outputTokens / 1000) * batch.outputPer1k : undefined;
    return {
      alias: m.model.alias,
      liveCostUsd: costUsd(m.model, m.inputTokens, m.outputTokens),
      bulkCostUsd: bulkCost,
      liveSeconds,
      bulkSeconds: batch ? options.gatherS + options.turnaroundS : undefined,
      jobs: Math.max(1, Math.ceil(m.calls / options.maxRecordsPerJob)),
      belowMinimum: batch ? m.calls < (options.minRecords ?? batch.minRecordsPerJob) : false,
    };
  });
}

/** The comparison as terminal lines, per 1,000 texts too. */
export function formatLiveVsBulk(rows: readonly LiveVsBulk[], texts: number): string {
  const per1k = (usd: number) => ((1000 * usd) / Math.max(1, texts)).toFixed(4);
  const time = (s: number | undefined) => (s === undefined ? "unknown" : s < 60 ? `${Math.round(s)} s` : s < 3_600 ? `${Math.round(s / 60)} min` : `${(s / 3_600).toFixed(1)} h`);
  const lines = ["model            live USD  per 1,000   live time   bulk USD  per 1,000   bulk time"];
  for (const r of rows) {
    const bulk = r.bulkCostUsd === undefined ? "no batch inference".padStart(30) : `${r.bulkCostUsd.toFixed(4).padStart(9)}  ${per1k(r.bulkCostUsd).padStart(9)}  ${time(r.bulkSeconds).padStart(10)}`;
    const note = r.belowMinimum ? "  (fewer records than a job's minimum: bulk would go live)" : "";
    lines.push(`${r.alias.padEnd(16)} ${r.liveCostUsd.toFixed(4).padStart(8)}  ${per1k(r.liveCostUsd).padStart(9)}  ${time(r.liveSeconds).padStart(10)}  ${bulk}${note}`);
  }
  lines.push("", "Live time: the file drained at the model's on-demand quota (LABELQ_QUOTA_*); bulk time: gather plus the expected turnaround (LABELQ_BULK_TURNAROUND_S), not a promise: Bedrock schedules jobs as capacity allows, within their timeout.");
  return lines.join("\n");
}
