import type { LabelValue } from "../../core/contracts/result.ts";
import type { DimensionScore } from "./score-run.ts";
import type { Interval } from "./metrics/bootstrap.ts";
import type { EvalReport } from "./run-evaluation.ts";

/** The words every report carries when the answers came from the Bedrock emulator. */
export const EMULATOR_WARNING =
  "Bedrock emulator (a test double, not a model): these numbers test the evaluation pipeline and say nothing about real label quality.";

/** A plain-text report for the terminal: per-dimension table, overall, operations, comparison, consistency, thresholds. */
export function formatReport(report: EvalReport, options: { maxFlips?: number } = {}): string {
  const out: string[] = [];
  const { run } = report;
  out.push(
    `labelq eval · ${report.taxonomy} · prompt ${run.spec.resolvedVersion}${run.spec.resolvedVersion === run.spec.promptVersion ? "" : ` (${run.spec.promptVersion})`} · model ${run.spec.model} · ${run.score.texts} gold texts (${report.goldFile})`,
  );
  out.push(report.target.kind === "emulator" ? `!! ${EMULATOR_WARNING}\n   ${report.target.description}` : `Bedrock: ${report.target.description}`);
  out.push("");
  out.push(
    table(
      ["dimension", "metric", "score", "95% CI", "support", "coverage", "details"],
      [
        ...run.score.dimensions.map((d) => [d.key, d.headlineMetric, num(d.headline), interval(d.interval), String(d.support), pct(d.coverage), details(d)]),
        ["overall", `mean of ${run.score.dimensions.length}`, num(run.score.overall.value), interval(run.score.overall.interval), String(run.score.texts), pct(run.score.labelledTexts / Math.max(1, run.score.texts)), ""],
      ],
    ),
  );
  out.push("");
  const o = run.ops;
  out.push(
    `operations: ${o.texts} texts, ${o.texts - o.labelled} without labels (${pct(o.errorRate)})${Object.keys(o.errorsByCode).length ? ` ${JSON.stringify(o.errorsByCode)}` : ""}; ` +
      `${o.modelCalls} model calls: ${o.reaskCalls} re-asks or fallback calls (${o.reaskRate.toFixed(2)} per chunk), ${o.retries} retries, ${o.fallbacks} fallbacks`,
  );
  out.push(
    `per 1,000 texts: $${o.per1kTexts.costUsd.toFixed(4)} at list prices, ${Math.round(o.per1kTexts.inputTokens).toLocaleString("en")} input and ${Math.round(o.per1kTexts.outputTokens).toLocaleString("en")} output tokens; ` +
      `latency per batch p50 ${ms(o.latencyMs.batchP50)}, p95 ${ms(o.latencyMs.batchP95)}, max ${ms(o.latencyMs.batchMax)} (${ms(o.latencyMs.perText)} per text)`,
  );

  if (report.against) {
    const a = report.against;
    out.push("");
    out.push(`against ${a.kind} ${a.label}: ${a.agreement.sharedTexts} texts labelled by both`);
    const deltas = new Map(a.delta?.dimensions.map((d) => [d.key, d]));
    out.push(
      table(
        ["dimension", "other", "this", "change", "95% CI of change", "agreement", "value", "exact"],
        [
          ...a.agreement.dimensions.map((g) => {
            const d = deltas.get(g.key);
            return [g.key, num(d?.baseline ?? null), num(d?.candidate ?? null), signed(d?.delta ?? null), interval(d?.interval ?? null), g.metric, num(g.value), pct(g.exactAgreement)];
          }),
          ...(a.delta ? [["overall", num(a.delta.overall.baseline), num(a.delta.overall.candidate), signed(a.delta.overall.delta), interval(a.delta.overall.interval), "", "", ""]] : []),
        ],
      ),
    );
    const max = options.maxFlips ?? 15;
    out.push(`flips: ${a.agreement.flips.length}${a.agreement.flips.length > max ? ` (first ${max})` : ""}`);
    for (const f of a.agreement.flips.slice(0, max)) out.push(`  ${f.id} ${f.dimension}: ${value(f.b)} (other) -> ${value(f.a)} (this)  "${snippet(report.texts[f.id] ?? "")}"`);
  }

  if (report.consistency) {
    out.push("");
    out.push(`self-consistency over ${report.consistency.runs} runs of the same texts`);
    out.push(
      table(
        ["dimension", "pairwise agreement", "95% CI", "stable texts"],
        report.consistency.dimensions.map((c) => [c.key, num(c.pairwiseAgreement), interval(c.interval), pct(c.stable)]),
      ),
    );
  }

  if (report.thresholds.length > 0 || report.coverageGated) {
    out.push("");
    const c = report.coverage;
    out.push(`${c.passed ? "ok  " : "FAIL"} coverage >= ${pct(c.min)}: ${c.labelled} of ${c.asked} texts labelled (${pct(c.coverage)})`);
    for (const t of report.thresholds) {
      // The value's own shortfall is plain from the numbers; any other reason is named.
      const why = t.failures.filter((f) => !f.startsWith("below") && f !== "undefined");
      out.push(`${t.passed ? "ok  " : "FAIL"} ${t.target} >= ${t.min}: ${num(t.value)}${why.length > 0 ? ` (${why.join("; ")})` : ""}`);
    }
  }
  return out.join("\n");
}

function details(d: DimensionScore): string {
  const m = d.metrics;
  switch (m.kind) {
    case "single":
      return [`macro-F1 ${num(m.macroF1)}`, ...m.confusions.slice(0, 2).map((c) => `${c.gold}->${c.predicted} ${c.count}`)].join("; ");
    case "scale":
      return [`MAE ${num(m.meanAbsoluteError)}`, `exact ${num(m.accuracy)}`, `null agreement ${num(m.nullAgreement)}`].join("; ");
    case "multi":
      return [`macro-F1 ${num(m.macroF1)}`, `Jaccard ${num(m.meanJaccard)}`, ...(m.noLabelTexts > 0 ? [`micro-F1 n/a on ${m.noLabelTexts} texts with no label`] : [])].join("; ");
    case "boolean":
      return [`P ${num(m.precision)}`, `R ${num(m.recall)}`, `${m.positives} true`].join("; ");
  }
}

/** Columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, k) => Math.max(h.length, ...rows.map((r) => (r[k] ?? "").length)));
  const line = (cells: readonly string[]) => cells.map((c, k) => c.padEnd(widths[k]!)).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** A rate or score with three decimals, or n/a where it is undefined. */
export function num(x: number | null | undefined): string {
  return x === null || x === undefined ? "n/a" : x.toFixed(3);
}

function signed(x: number | null): string {
  return x === null ? "n/a" : `${x >= 0 ? "+" : ""}${x.toFixed(3)}`;
}

function interval(i: Interval | null): string {
  return i ? `[${i.low.toFixed(2)}, ${i.high.toFixed(2)}]` : "n/a";
}

function pct(x: number | null): string {
  return x === null ? "n/a" : `${(x * 100).toFixed(1)}%`;
}

function ms(x: number): string {
  return `${Math.round(x)} ms`;
}

function value(v: LabelValue): string {
  return JSON.stringify(v);
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}
