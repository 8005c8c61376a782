// A small hand-written SVG line chart for the quota benchmark: no dependencies, plain strings.

export interface Series {
  name: string;
  color: string;
  /** [x, y] points in data units, drawn in order. */
  points: readonly (readonly [number, number])[];
  dashed?: boolean;
}

export interface LineChart {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  /** The x axis runs from 0 to xMax; ticks every xStep. */
  xMax: number;
  xStep: number;
  series: readonly Series[];
  /** A shaded band on the x axis, e.g. the window the figures are measured over. */
  band?: { from: number; to: number; label: string };
  width?: number;
  height?: number;
}

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const fmt = (n: number) => (Math.round(n * 10) / 10).toString();

/** A "nice" upper bound and tick step for the y axis (1, 2 or 5 times a power of ten). */
function niceScale(max: number, ticks = 5): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 1 };
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  return { top: Math.ceil(max / step) * step, step };
}

/** Render the chart as a standalone SVG document. */
export function lineChartSvg(chart: LineChart): string {
  const width = chart.width ?? 760;
  const height = chart.height ?? 420;
  const m = { left: 70, right: 20, top: chart.subtitle ? 62 : 46, bottom: 92 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const yMaxData = Math.max(0, ...chart.series.flatMap((s) => s.points.map(([, y]) => y)));
  const { top, step } = niceScale(yMaxData * 1.05);
  const x = (v: number) => m.left + (v / chart.xMax) * plotW;
  const y = (v: number) => m.top + plotH - (v / top) * plotH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${escape(chart.title)}</text>`,
  );
  if (chart.subtitle) out.push(`<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">${escape(chart.subtitle)}</text>`);
  if (chart.band) {
    const b = chart.band;
    out.push(
      `<rect x="${fmt(x(b.from))}" y="${m.top}" width="${fmt(x(b.to) - x(b.from))}" height="${plotH}" fill="#f2f2f2"/>`,
      `<text x="${fmt((x(b.from) + x(b.to)) / 2)}" y="${m.top + 14}" text-anchor="middle" fill="#777">${escape(b.label)}</text>`,
    );
  }
  // Grid, ticks and tick labels.
  for (let v = 0; v <= top + step / 2; v += step) {
    out.push(
      `<line x1="${m.left}" y1="${fmt(y(v))}" x2="${m.left + plotW}" y2="${fmt(y(v))}" stroke="#e3e3e3"/>`,
      `<text x="${m.left - 8}" y="${fmt(y(v) + 4)}" text-anchor="end" fill="#333">${fmt(v)}</text>`,
    );
  }
  for (let v = 0; v <= chart.xMax + chart.xStep / 2; v += chart.xStep) {
    out.push(
      `<line x1="${fmt(x(v))}" y1="${m.top + plotH}" x2="${fmt(x(v))}" y2="${m.top + plotH + 5}" stroke="#333"/>`,
      `<text x="${fmt(x(v))}" y="${m.top + plotH + 19}" text-anchor="middle" fill="#333">${fmt(v)}</text>`,
    );
  }
  // Axes and their labels.
  out.push(
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + plotH}" stroke="#333"/>`,
    `<line x1="${m.left}" y1="${m.top + plotH}" x2="${m.left + plotW}" y2="${m.top + plotH}" stroke="#333"/>`,
    `<text x="${m.left + plotW / 2}" y="${m.top + plotH + 38}" text-anchor="middle">${escape(chart.xLabel)}</text>`,
    `<text x="18" y="${m.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 18 ${m.top + plotH / 2})">${escape(chart.yLabel)}</text>`,
  );
  // Lines and points.
  for (const s of chart.series) {
    if (s.points.length === 0) continue;
    const d = s.points.map(([px, py], k) => `${k === 0 ? "M" : "L"}${fmt(x(px))},${fmt(y(py))}`).join(" ");
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`);
    if (!s.dashed) for (const [px, py] of s.points) out.push(`<circle cx="${fmt(x(px))}" cy="${fmt(y(py))}" r="2.5" fill="${s.color}"/>`);
  }
  // Legend, in one row under the x axis label.
  let lx = m.left;
  const ly = height - 22;
  for (const s of chart.series) {
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`,
      `<text x="${lx + 30}" y="${ly + 4}">${escape(s.name)}</text>`,
    );
    lx += 40 + s.name.length * 6.6;
  }
  out.push("</svg>");
  return out.join("\n") + "\n";
}
