import { table } from "../eval/format-terminal.ts";
import type { Interval } from "../eval/metrics/bootstrap.ts";
import type { RunScore } from "../eval/score-run.ts";
import type { Threshold } from "../eval/thresholds.ts";

/** The lower end of a headline's interval a dimension needs when `--min-lower` names no number for it. */
export const DEFAULT_MIN_LOWER = 0.8;

/** What a dimension must show on every set it is scored on before the student may answer it. */
export interface GateRule {
  /** Least lower end of the bootstrap interval of each dimension's headline metric, by dimension key. */
  minLower: Record<string, number>;
  /** Least share of the asked texts with valid labels: the run's (holds every dimension) and each dimension's. */
  minCoverage: number;
  /** Least number of texts a dimension's headline rests on. */
  minTexts: number;
}

/** A set the student was scored on: "heldout" (the teacher's labels) or "gold" (human labels). */
export interface GateSet {
  name: "heldout" | "gold";
  score: RunScore;
}

/** One dimension on one set: the numbers the decision rests on. */
export interface GateRow {
  dimension: string;
  set: GateSet["name"];
  metric: string;
  point: number | null;
  interval: Interval | null;
  coverage: number | null;
  texts: number;
  minLower: number;
  passed: boolean;
  /** One phrase per reason it is held; empty when it passed. */
  why: string[];
}

/** The decision for one dimension: PROMOTE only when every set it is scored on passes. */
export interface GateDimension {
  key: string;
  decision: "PROMOTE" | "HOLD";
  why: string[];
}

export interface GateDecision {
  rows: GateRow[];
  dimensions: GateDimension[];
  promoted: string[];
  held: string[];
  /** True when every dimension is promoted. */
  passed: boolean;
}

/**
 * Turn `--min-lower` values (parsed by eval's parseThresholds) into a minimum per dimension: a bare
 * number or `overall=x` is every dimension's minimum, `key=x` overrides it for one dimension.
 */
export function minLowerByDimension(thresholds: readonly Threshold[], keys: readonly string[]): Record<string, number> {
  const all = [...thresholds].reverse().find((t) => t.target === "overall")?.min ?? DEFAULT_MIN_LOWER;
  const out: Record<string, number> = {};
  for (const key of keys) out[key] = [...thresholds].reverse().find((t) => t.target === key)?.min ?? all;
  return out;
}

/**
 * Decide PROMOTE or HOLD for each dimension. A dimension is promoted only when, on every set it is
 * scored on, the LOWER end of its headline's bootstrap interval reaches its minimum (a point
 * estimate that passes on a lucky sample is not enough), its headline is defined, it rests on
 * enough texts, and both it and the whole run covered enough of the texts asked. The held-out set
 * must score every dimension: one it does not label is held, since nothing shows the student can.
 */
export function decideGate(dimensionKeys: readonly string[], sets: readonly GateSet[], rule: GateRule): GateDecision {
  const rows: GateRow[] = [];
  const dimensions: GateDimension[] = [];
  for (const key of dimensionKeys) {
    const min = rule.minLower[key] ?? DEFAULT_MIN_LOWER;
    const why: string[] = [];
    for (const set of sets) {
      const d = set.score.dimensions.find((x) => x.key === key);
      if (!d) {
        if (set.name === "heldout") why.push("heldout: not labelled in the held-out set");
        continue;
      }
      const reasons: string[] = [];
      if (set.score.coverage === null || set.score.coverage < rule.minCoverage) reasons.push(`run coverage ${percent(set.score.coverage)} < ${percent(rule.minCoverage)}`);
      if (d.headline === null) reasons.push(`${d.headlineMetric} undefined (n/a)`);
      else if (d.interval === null) reasons.push("no interval (too few resamples defined it)");
      else if (d.interval.low < min) reasons.push(`lower bound ${fixed(d.interval.low)} < ${fixed(min)}`);
      if (d.coverage === null || d.coverage < rule.minCoverage) reasons.push(`coverage ${percent(d.coverage)} < ${percent(rule.minCoverage)}`);
      if (d.scoredTexts < rule.minTexts) reasons.push(`${d.scoredTexts} texts < ${rule.minTexts}`);
      rows.push({ dimension: key, set: set.name, metric: d.headlineMetric, point: d.headline, interval: d.interval, coverage: d.coverage, texts: d.scoredTexts, minLower: min, passed: reasons.length === 0, why: reasons });
      why.push(...reasons.map((r) => `${set.name}: ${r}`));
    }
    dimensions.push({ key, decision: why.length === 0 ? "PROMOTE" : "HOLD", why });
  }
  const promoted = dimensions.filter((d) => d.decision === "PROMOTE").map((d) => d.key);
  const held = dimensions.filter((d) => d.decision === "HOLD").map((d) => d.key);
  return { rows, dimensions, promoted, held, passed: held.length === 0 };
}

/** The gate as a table (dimension, set, metric, point, interval, threshold, decision, why) and a one-line verdict. */
export function formatGateDecision(decision: GateDecision, student: string): string {
  const header = ["dimension", "set", "metric", "point", "95% interval", "min lower", "decision", "why"];
  const rows = decision.rows.map((r) => [
    r.dimension,
    r.set,
    r.metric,
    r.point === null ? "n/a" : fixed(r.point),
    r.interval === null ? "n/a" : `[${fixed(r.interval.low)}, ${fixed(r.interval.high)}]`,
    fixed(r.minLower),
    r.passed ? "PROMOTE" : "HOLD",
    r.why.join("; "),
  ]);
  // A dimension with no row (absent from the held-out set) still gets a line saying why it is held.
  for (const d of decision.dimensions) if (!decision.rows.some((r) => r.dimension === d.key)) rows.push([d.key, "heldout", "", "n/a", "n/a", "", "HOLD", d.why.join("; ")]);
  return `${table(header, rows)}\n\n${verdict(decision, student)}`;
}

/** One line: what the student may answer. */
export function verdict(decision: GateDecision, student: string): string {
  const n = decision.dimensions.length;
  if (decision.passed) return `PROMOTE: ${student} passes the gate on all ${n} dimensions`;
  if (decision.promoted.length === 0) return `HOLD: ${student} passes on none of the ${n} dimensions`;
  return `HOLD: ${student} passes on ${decision.promoted.length} of ${n} dimensions (${decision.promoted.join(", ")}); held: ${decision.held.join(", ")}`;
}

function fixed(x: number): string {
  return x.toFixed(3);
}

function percent(x: number | null): string {
  return x === null ? "n/a" : `${(x * 100).toFixed(1)}%`;
}
