import type { DimensionScore } from "./score-run.ts";
import { EMULATOR_WARNING, num } from "./format-terminal.ts";
import type { EvalReport } from "./run-evaluation.ts";
import { barChart, type BarRow, escapeHtml } from "./svg-bars.ts";

/**
 * A self-contained HTML report: inline CSS and SVG charts, no script and nothing fetched, so it
 * opens from disk on a machine without network. Every text from the gold set is escaped
 * (gold sets hold prompt-injection attempts with markup on purpose).
 */
export function renderHtmlReport(report: EvalReport): string {
  const { run } = report;
  const h = escapeHtml;
  const a = report.against;
  const overviewRows: BarRow[] = run.score.dimensions.map((d) => {
    const other = a?.score?.dimensions.find((x) => x.key === d.key);
    return a?.score
      ? { label: d.key, values: [other?.headline ?? null, d.headline], intervals: [other?.interval ?? null, d.interval] }
      : { label: d.key, values: [d.headline], intervals: [d.interval] };
  });
  overviewRows.push(
    a?.score
      ? { label: "overall", values: [a.score.overall.value, run.score.overall.value], intervals: [a.score.overall.interval, run.score.overall.interval] }
      : { label: "overall", values: [run.score.overall.value], intervals: [run.score.overall.interval] },
  );
  const minHeadline = Math.min(0, ...overviewRows.flatMap((r) => r.values.filter((v): v is number => v !== null)));
  const series = a?.score ? [`${a.kind} ${a.label}`, `this run (${run.spec.resolvedVersion}, ${run.spec.model})`] : ["headline score"];

  const sections: string[] = [];
  sections.push(`<section><h2>Headline score per dimension</h2>
<p>Accuracy (single choice), quadratic-weighted kappa (scales), micro-F1 (multi choice), F1 of <code>true</code> (yes/no); whiskers are bootstrap 95 % intervals (${report.bootstrap.resamples} resamples, seed ${report.bootstrap.seed}).</p>
${barChart(overviewRows, { title: "Headline score by dimension", series, min: minHeadline < 0 ? -1 : 0 })}
</section>`);

  const o = run.ops;
  sections.push(`<section><h2>Cost and operations</h2><table>
<tr><th>texts</th><td>${o.texts}</td><th>without labels</th><td>${o.texts - o.labelled} (${pct(o.errorRate)}) ${h(Object.entries(o.errorsByCode).map(([c, n]) => `${c} ${n}`).join(", "))}</td></tr>
<tr><th>model calls</th><td>${o.modelCalls}</td><th>re-asks and fallback calls</th><td>${o.reaskCalls} (${o.reaskRate.toFixed(2)} per chunk); ${o.retries} retries, ${o.fallbacks} fallbacks</td></tr>
<tr><th>cost per 1,000 texts</th><td>$${o.per1kTexts.costUsd.toFixed(4)}</td><th>tokens per 1,000 texts</th><td>${Math.round(o.per1kTexts.inputTokens).toLocaleString("en")} in, ${Math.round(o.per1kTexts.outputTokens).toLocaleString("en")} out</td></tr>
<tr><th>latency per batch</th><td>p50 ${Math.round(o.latencyMs.batchP50)} ms, p95 ${Math.round(o.latencyMs.batchP95)} ms</td><th>per text</th><td>${Math.round(o.latencyMs.perText)} ms</td></tr>
</table></section>`);

  if (a) {
    const deltas = new Map(a.delta?.dimensions.map((d) => [d.key, d]));
    const rows = a.agreement.dimensions
      .map((g) => {
        const d = deltas.get(g.key);
        const change = d?.delta ?? null;
        const significant = d?.interval && (d.interval.low > 0 || d.interval.high < 0);
        return `<tr><td>${h(g.key)}</td><td>${num(d?.baseline)}</td><td>${num(d?.candidate)}</td><td class="${significant ? (change! > 0 ? "up" : "down") : ""}">${change === null ? "n/a" : (change >= 0 ? "+" : "") + change.toFixed(3)}</td><td>${d?.interval ? `[${d.interval.low.toFixed(3)}, ${d.interval.high.toFixed(3)}]` : "n/a"}</td><td>${h(g.metric)} ${num(g.value)}</td><td>${pct(g.exactAgreement)}</td></tr>`;
      })
      .join("\n");
    const flips = a.agreement.flips
      .slice(0, 200)
      .map((f) => `<tr><td>${h(f.id)}</td><td>${h(f.dimension)}</td><td>${h(JSON.stringify(f.b))}</td><td>${h(JSON.stringify(f.a))}</td><td class="text">${h(report.texts[f.id] ?? "")}</td></tr>`)
      .join("\n");
    sections.push(`<section><h2>Against ${h(a.kind)} ${h(a.label)}</h2>
<p>${a.agreement.sharedTexts} texts labelled by both. A change is marked only when its paired 95 % interval excludes 0.</p>
<table><tr><th>dimension</th><th>other</th><th>this</th><th>change</th><th>95 % CI of change</th><th>agreement</th><th>exact</th></tr>
${rows}</table>
<h3>Flips (${a.agreement.flips.length}${a.agreement.flips.length > 200 ? ", first 200" : ""})</h3>
<table><tr><th>id</th><th>dimension</th><th>other</th><th>this</th><th>text</th></tr>
${flips}</table></section>`);
  }

  if (report.consistency) {
    const c = report.consistency;
    sections.push(`<section><h2>Self-consistency over ${c.runs} runs</h2>
${barChart(
  c.dimensions.map((d) => ({ label: d.key, values: [d.pairwiseAgreement, d.stable], intervals: [d.interval, null] })),
  { title: "Agreement between repeated runs", series: ["pairwise agreement", "texts stable in every run"] },
)}</section>`);
  }

  sections.push(`<section><h2>Dimensions</h2>${run.score.dimensions.map((d) => dimensionSection(d)).join("\n")}</section>`);

  if (report.thresholds.length > 0 || report.coverageGated) {
    const c = report.coverage;
    const coverage = `<li class="${c.passed ? "up" : "down"}">${c.passed ? "ok" : "FAIL"} coverage &ge; ${c.min}: ${c.labelled} of ${c.asked} texts labelled</li>`;
    sections.push(`<section><h2>Thresholds: ${report.passed ? "passed" : "FAILED"}</h2><ul>${coverage}${report.thresholds
      .map((t) => `<li class="${t.passed ? "up" : "down"}">${t.passed ? "ok" : "FAIL"} ${h(t.target)} &ge; ${t.min}: ${num(t.value)}${t.failures.length > 0 ? ` (${h(t.failures.join("; "))})` : ""}</li>`)
      .join("")}</ul></section>`);
  }

  const title = `labelq eval: ${report.taxonomy}, prompt ${run.spec.resolvedVersion}, ${run.spec.model}`;
  const banner =
    report.target.kind === "emulator"
      ? `<p class="warning">${h(EMULATOR_WARNING)}</p><p class="target">${h(report.target.description)}</p>`
      : `<p class="target">Bedrock: ${h(report.target.description)}</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${h(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${CSS}</style></head>
<body><header><h1>${h(title)}</h1>
<p>${run.score.texts} gold texts from <code>${h(report.goldFile)}</code>, ${run.score.labelledTexts} labelled; overall ${num(run.score.overall.value)}${run.score.overall.interval ? ` [${run.score.overall.interval.low.toFixed(3)}, ${run.score.overall.interval.high.toFixed(3)}]` : ""}; prompt hash <code>${h(run.spec.promptHash.slice(0, 19))}…</code>; ${h(report.createdAt)}</p>
${banner}</header>
${sections.join("\n")}
</body></html>
`;
}

function dimensionSection(d: DimensionScore): string {
  const h = escapeHtml;
  const m = d.metrics;
  let chart = "";
  let facts = "";
  switch (m.kind) {
    case "single":
      chart = barChart(m.perLabel.map((l) => ({ label: `${l.label} (${l.support})`, values: [l.f1] })), { title: `${d.key}: F1 per label (gold support)`, series: ["F1"] });
      facts = `accuracy ${num(m.accuracy)}, macro-F1 ${num(m.macroF1)}; top confusions: ${m.confusions.map((c) => `${h(c.gold)} → ${h(c.predicted)} (${c.count})`).join(", ") || "none"}`;
      break;
    case "multi":
      chart = barChart(m.perLabel.map((l) => ({ label: `${l.label} (${l.support})`, values: [l.f1] })), { title: `${d.key}: F1 per label (gold support)`, series: ["F1"] });
      facts = `micro-F1 ${num(m.microF1)} (P ${num(m.microPrecision)}, R ${num(m.microRecall)}), macro-F1 ${num(m.macroF1)}, mean Jaccard ${num(m.meanJaccard)}${m.noLabelTexts > 0 ? `; micro-F1 n/a on ${m.noLabelTexts} texts with no label either side` : ""}`;
      break;
    case "scale": {
      const most = Math.max(1, ...m.distribution.flatMap((x) => [x.gold, x.predicted]));
      chart = barChart(m.distribution.map((x) => ({ label: x.value, values: [x.gold, x.predicted] })), {
        title: `${d.key}: how often each point is gold and predicted`,
        series: ["gold", "predicted"],
        max: most,
        format: (x) => String(x),
      });
      facts = `quadratic kappa ${num(m.quadraticKappa)} on ${m.numericPairs} numeric pairs, MAE ${num(m.meanAbsoluteError)}, exact ${num(m.accuracy)}, null agreement ${num(m.nullAgreement)}`;
      break;
    }
    case "boolean":
      chart = barChart(
        [
          { label: "precision", values: [m.precision] },
          { label: "recall", values: [m.recall] },
          { label: "F1", values: [m.f1] },
        ],
        { title: `${d.key}: precision, recall and F1 of true`, series: ["score"] },
      );
      facts = `${m.positives} gold true; accuracy ${num(m.accuracy)}`;
      break;
  }
  return `<article id="dim-${h(d.key)}"><h3>${h(d.title)} <small>${h(d.key)}, ${h(d.kind)}</small></h3>
<p>${h(d.headlineMetric)} <strong>${num(d.headline)}</strong>${d.interval ? ` [${d.interval.low.toFixed(3)}, ${d.interval.high.toFixed(3)}]` : ""}; support ${d.support}, coverage ${pct(d.coverage)}. ${facts}</p>
${chart}</article>`;
}

function pct(x: number | null): string {
  return x === null ? "n/a" : `${(x * 100).toFixed(1)} %`;
}

const CSS = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1000px;padding:0 16px;color:#1d2330}
h1{font-size:22px;margin:0 0 6px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d7dbe3;padding-bottom:4px}h3{font-size:15px;margin:18px 0 4px}
small{color:#667;font-weight:normal}code{background:#f1f3f7;padding:0 3px;border-radius:3px}
.warning{background:#fff1e6;border:1px solid #e08a2c;padding:8px 12px;border-radius:4px;font-weight:600}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #d7dbe3;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f5f6f9}
td.text{max-width:420px;word-break:break-word}.up{color:#1f7a37}.down{color:#b3261e}
svg.chart{display:block;margin:6px 0;font-size:12px}svg.chart .chart-title{font-weight:600;font-size:13px}
svg.chart .grid{stroke:#e5e8ee}svg.chart .axis{stroke:#7a8394}svg.chart .ci{stroke:#1d2330;stroke-width:1.5;fill:none}
svg.chart .tick,svg.chart .na{fill:#667}svg.chart .value{fill:#1d2330}`;
