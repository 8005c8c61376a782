/** One bar (or group of bars, one per series) of a horizontal bar chart. */
export interface BarRow {
  label: string;
  /** One value per series; null draws no bar and prints n/a. */
  values: (number | null)[];
  /** Optional 95 % interval per series, drawn as a whisker. */
  intervals?: ({ low: number; high: number } | null)[];
}

export interface BarChartOptions {
  title: string;
  series: string[];
  /** Axis range; kappas can be negative, so min may be -1. Default 0..1. */
  min?: number;
  max?: number;
  /** How values are printed beside the bars; default three decimals. */
  format?: (x: number) => string;
}

const COLOURS = ["#2f6db5", "#e08a2c", "#4d9a5b", "#9a4d8f"];
const ROW = 18;
const GAP = 8;
const LABEL_W = 210;
const PLOT_W = 420;
const VALUE_W = 60;

/**
 * A horizontal bar chart as inline SVG (no script, no external resource): one row per label,
 * one bar per series, interval whiskers, a zero line and a legend. Every text is escaped.
 */
export function barChart(rows: readonly BarRow[], options: BarChartOptions): string {
  const min = options.min ?? 0;
  const max = options.max ?? 1;
  const fmt = options.format ?? ((x: number) => x.toFixed(3));
  const n = Math.max(1, options.series.length);
  const groupH = n * ROW + GAP;
  const top = 28 + (n > 1 ? 18 : 0);
  const height = top + rows.length * groupH + 24;
  const width = LABEL_W + PLOT_W + VALUE_W;
  const x = (v: number) => LABEL_W + ((Math.min(max, Math.max(min, v)) - min) / (max - min)) * PLOT_W;
  const parts: string[] = [];
  parts.push(`<text x="0" y="16" class="chart-title">${escapeHtml(options.title)}</text>`);
  if (n > 1) {
    let lx = LABEL_W;
    options.series.forEach((s, k) => {
      // Roughly 7 px per character at 12 px: each entry starts after the previous one's text.
      if (k > 0) lx += 16 + options.series[k - 1]!.length * 7 + 24;
      parts.push(`<rect x="${lx}" y="26" width="12" height="12" fill="${COLOURS[k % COLOURS.length]}"/><text x="${lx + 16}" y="36">${escapeHtml(s)}</text>`);
    });
  }
  for (const tick of ticks(min, max)) {
    parts.push(`<line x1="${x(tick)}" x2="${x(tick)}" y1="${top - 4}" y2="${height - 20}" class="${tick === 0 ? "axis" : "grid"}"/>`);
    parts.push(`<text x="${x(tick)}" y="${height - 6}" text-anchor="middle" class="tick">${tick}</text>`);
  }
  rows.forEach((row, r) => {
    const y0 = top + r * groupH;
    parts.push(`<text x="${LABEL_W - 8}" y="${y0 + (n * ROW) / 2 + 4}" text-anchor="end">${escapeHtml(row.label)}</text>`);
    row.values.forEach((v, k) => {
      const y = y0 + k * ROW;
      const colour = COLOURS[k % COLOURS.length];
      if (v === null) {
        parts.push(`<text x="${x(Math.max(min, 0)) + 4}" y="${y + ROW - 5}" class="na">n/a</text>`);
        return;
      }
      const from = x(Math.max(min, Math.min(0, max)));
      const to = x(v);
      parts.push(
        `<rect x="${Math.min(from, to).toFixed(1)}" y="${y + 2}" width="${Math.max(1, Math.abs(to - from)).toFixed(1)}" height="${ROW - 4}" fill="${colour}" data-value="${v}"><title>${escapeHtml(`${row.label}: ${fmt(v)}`)}</title></rect>`,
      );
      const ci = row.intervals?.[k];
      if (ci) {
        const cy = y + ROW / 2;
        parts.push(`<path d="M${x(ci.low).toFixed(1)} ${cy}H${x(ci.high).toFixed(1)}M${x(ci.low).toFixed(1)} ${cy - 4}V${cy + 4}M${x(ci.high).toFixed(1)} ${cy - 4}V${cy + 4}" class="ci"/>`);
      }
      parts.push(`<text x="${LABEL_W + PLOT_W + 6}" y="${y + ROW - 5}" class="value">${escapeHtml(fmt(v))}</text>`);
    });
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(options.title)}">${parts.join("")}</svg>`;
}

function ticks(min: number, max: number): number[] {
  const step = (max - min) / 4;
  return Array.from({ length: 5 }, (_, k) => Math.round((min + k * step) * 100) / 100);
}

/** Escape text for HTML and SVG content and attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}
