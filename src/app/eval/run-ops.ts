import type { LabelRun } from "./label-gold-texts.ts";
import { quantile } from "./metrics/bootstrap.ts";

/** What a run cost and how it went, per 1,000 texts where that reads better. */
export interface RunOps {
  texts: number;
  labelled: number;
  /** Texts without labels (item errors and failed batches), over all texts. */
  errorRate: number;
  errorsByCode: Record<string, number>;
  /** Every model call attempt. */
  modelCalls: number;
  /** Calls beyond one per chunk that were neither retries of a failed call: re-asks for missing or invalid labels, and fallback calls. */
  reaskCalls: number;
  /** reaskCalls per first-round chunk. */
  reaskRate: number;
  retries: number;
  fallbacks: number;
  per1kTexts: { costUsd: number; inputTokens: number; outputTokens: number };
  latencyMs: { batchP50: number; batchP95: number; batchMax: number; perText: number };
}

/** Summarise a run's usage, errors and timing. */
export function runOps(run: LabelRun): RunOps {
  const errorsByCode: Record<string, number> = {};
  for (const e of run.errors) errorsByCode[e.code] = (errorsByCode[e.code] ?? 0) + 1;
  // All from the same counters, failed batches included, so retries are not subtracted from calls they were not counted in.
  const reaskCalls = Math.max(0, run.attempts - run.chunks - run.retries);
  const per1k = (x: number) => (run.texts === 0 ? 0 : (x / run.texts) * 1000);
  const sorted = [...run.batchMs].sort((a, b) => a - b);
  return {
    texts: run.texts,
    labelled: run.texts - run.errors.length,
    errorRate: run.texts === 0 ? 0 : run.errors.length / run.texts,
    errorsByCode,
    modelCalls: run.attempts,
    reaskCalls,
    reaskRate: run.chunks === 0 ? 0 : reaskCalls / run.chunks,
    retries: run.retries,
    fallbacks: run.fallbacks,
    per1kTexts: { costUsd: per1k(run.usage.costUsd), inputTokens: per1k(run.usage.inputTokens), outputTokens: per1k(run.usage.outputTokens) },
    latencyMs: {
      batchP50: sorted.length ? quantile(sorted, 0.5) : 0,
      batchP95: sorted.length ? quantile(sorted, 0.95) : 0,
      batchMax: sorted.at(-1) ?? 0,
      perText: run.texts === 0 ? 0 : sorted.reduce((s, x) => s + x, 0) / run.texts,
    },
  };
}
