import type { LabelResult } from "../../core/contracts/result.ts";

export interface RunSummary {
  batches: number;
  texts: number;
  labelled: number;
  itemErrors: Record<string, number>;
  statuses: Record<string, number>;
  modelCalls: number;
  /** Texts answered wholly from the label cache. */
  cacheHits: number;
  inputTokens: number;
  outputTokens: number;
  /** Quota tokens Bedrock reserved for the calls (0 for bulk records: batch inference does not use the on-demand quota). */
  reservedTokens: number;
  costUsd: number;
  /** Dimension key -> label (as text) -> count over labelled items. */
  distribution: Record<string, Record<string, number>>;
}

/** Aggregate a run's results: counts, usage and the label distribution per dimension. */
export function summarizeResults(results: readonly LabelResult[]): RunSummary {
  const s: RunSummary = {
    batches: results.length,
    texts: 0,
    labelled: 0,
    itemErrors: {},
    statuses: {},
    modelCalls: 0,
    cacheHits: 0,
    inputTokens: 0,
    outputTokens: 0,
    reservedTokens: 0,
    costUsd: 0,
    distribution: {},
  };
  for (const r of results) {
    s.statuses[r.status] = (s.statuses[r.status] ?? 0) + 1;
    s.modelCalls += r.usage.modelCalls;
    s.cacheHits += r.usage.cacheHits;
    s.inputTokens += r.usage.inputTokens;
    s.outputTokens += r.usage.outputTokens;
    s.reservedTokens += r.usage.reservedTokens;
    s.costUsd += r.usage.costUsd;
    for (const it of r.items) {
      s.texts += 1;
      if (it.error) s.itemErrors[it.error.code] = (s.itemErrors[it.error.code] ?? 0) + 1;
      if (!it.labels) continue;
      s.labelled += 1;
      for (const [dim, value] of Object.entries(it.labels)) {
        const counts = (s.distribution[dim] ??= {});
        for (const v of Array.isArray(value) ? (value.length ? value : ["(none)"]) : [value]) {
          const key = v === null ? "unknown" : String(v);
          counts[key] = (counts[key] ?? 0) + 1;
        }
      }
    }
  }
  return s;
}

/** Render a summary as compact terminal lines. */
export function formatSummary(s: RunSummary, wallMs: number, extra: string[] = []): string {
  const seconds = wallMs / 1000;
  const lines = [
    `batches ${s.batches} (${Object.entries(s.statuses).map(([k, v]) => `${k} ${v}`).join(", ")})  texts ${s.texts}  labelled ${s.labelled}` +
      (Object.keys(s.itemErrors).length ? `  item errors: ${Object.entries(s.itemErrors).map(([k, v]) => `${k} ${v}`).join(", ")}` : ""),
    `model calls ${s.modelCalls}  cache hits ${s.cacheHits}/${s.texts} (${Math.round((100 * s.cacheHits) / Math.max(1, s.texts))}%)`,
    `tokens in ${s.inputTokens} / out ${s.outputTokens}  per text in ${(s.inputTokens / Math.max(1, s.texts - s.cacheHits)).toFixed(0)} / out ${(s.outputTokens / Math.max(1, s.texts - s.cacheHits)).toFixed(1)} / reserved ${(s.reservedTokens / Math.max(1, s.texts - s.cacheHits)).toFixed(0)} (texts sent to the model)  cost at list price $${s.costUsd.toFixed(4)} ($${((1000 * s.costUsd) / Math.max(1, s.texts)).toFixed(3)} per 1,000 texts)`,
    `wall time ${seconds.toFixed(2)} s  throughput ${(s.texts / Math.max(seconds, 0.001)).toFixed(1)} texts/s`,
    ...extra,
    "",
    "label distribution (share of labelled texts):",
  ];
  const width = Math.max(...Object.keys(s.distribution).map((k) => k.length), 10);
  for (const [dim, counts] of Object.entries(s.distribution)) {
    const top = Object.entries(counts)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([label, n]) => `${label} ${Math.round((100 * n) / Math.max(1, s.labelled))}%`);
    const more = Object.keys(counts).length > 6 ? ` +${Object.keys(counts).length - 6} more` : "";
    lines.push(`  ${dim.padEnd(width)}  ${top.join("  ")}${more}`);
  }
  return lines.join("\n");
}
