import type { LabelValue } from "../../core/contracts/result.ts";
import type { Dimension, Taxonomy } from "../../core/taxonomy/taxonomy-schema.ts";
import type { GoldItem } from "./gold-set.ts";
import { bootstrapIntervals, type BootstrapOptions, type Interval } from "./metrics/bootstrap.ts";
import { dimensionMetrics, type DimensionMetrics, HEADLINE_METRIC, headlineOf, headlineTexts, type LabelPair } from "./dimension-scores.ts";

/** A run's labels by item id; null for a text the run could not label (an item error). */
export type RunLabels = ReadonlyMap<string, Record<string, LabelValue> | null>;

/** How one dimension of a run scores against the gold set. */
export interface DimensionScore {
  key: string;
  title: string;
  kind: Dimension["kind"];
  /** Name of the headline metric (accuracy, quadratic kappa, micro-F1, F1). */
  headlineMetric: string;
  headline: number | null;
  /** Texts the headline is computed from (see headlineTexts): what a threshold on it rests on. */
  scoredTexts: number;
  /** Bootstrap 95 % interval of the headline. */
  interval: Interval | null;
  /** Gold texts with a label for this dimension. */
  support: number;
  /** Of those, texts the run labelled (an item error leaves a text uncovered). */
  covered: number;
  coverage: number | null;
  metrics: DimensionMetrics;
}

export interface RunScore {
  dimensions: DimensionScore[];
  /**
   * Unweighted mean of the dimensions' defined headline numbers, with its bootstrap interval. The
   * point and every resample use one definition: a dimension whose headline is undefined (null)
   * is left out of the mean, never counted as 0.
   */
  overall: { value: number | null; interval: Interval | null };
  /** Gold texts (the texts asked), and how many of them the run labelled (valid labels, no item error). */
  texts: number;
  labelledTexts: number;
  /** labelledTexts / texts; null for no texts. */
  coverage: number | null;
}

/** The pair (gold, predicted) of each gold item for one dimension, or undefined where either side is missing. */
export function pairsByItem(d: Dimension, gold: readonly GoldItem[], run: RunLabels): (LabelPair | undefined)[] {
  return gold.map((item) => {
    if (!(d.key in item.labels)) return undefined;
    const labels = run.get(item.id);
    if (!labels || !(d.key in labels)) return undefined;
    return { gold: item.labels[d.key]!, predicted: labels[d.key]! };
  });
}

/** Score a run against the gold set: every dimension's metrics, coverage and bootstrap intervals, and the overall mean. */
export function scoreRun(taxonomy: Taxonomy, gold: readonly GoldItem[], run: RunLabels, bootstrap: BootstrapOptions = {}): RunScore {
  const dims = taxonomy.dimensions.filter((d) => gold.some((g) => d.key in g.labels));
  const pairs = new Map(dims.map((d) => [d.key, pairsByItem(d, gold, run)]));
  const statistics: Record<string, (indices: readonly number[]) => number | null> = {};
  for (const d of dims) statistics[d.key] = (idx) => headlineOf(d, pick(pairs.get(d.key)!, idx));
  statistics[OVERALL] = (idx) => mean(dims.map((d) => statistics[d.key]!(idx)));
  const intervals = bootstrapIntervals(gold.length, statistics, bootstrap);
  // The point estimates are the same statistics on the whole gold set (every index once), so a
  // point and its interval cannot disagree on what is counted.
  const all = gold.map((_, k) => k);

  const dimensions = dims.map((d): DimensionScore => {
    const covered = pairs.get(d.key)!.filter((p) => p !== undefined);
    const support = gold.filter((g) => d.key in g.labels).length;
    return {
      key: d.key,
      title: d.title,
      kind: d.kind,
      headlineMetric: HEADLINE_METRIC[d.kind],
      headline: statistics[d.key]!(all),
      scoredTexts: headlineTexts(d, covered),
      interval: intervals[d.key] ?? null,
      support,
      covered: covered.length,
      coverage: support === 0 ? null : covered.length / support,
      metrics: dimensionMetrics(d, covered),
    };
  });
  const labelledTexts = gold.filter((g) => run.get(g.id)).length;
  return {
    dimensions,
    overall: { value: statistics[OVERALL](all), interval: intervals[OVERALL] ?? null },
    texts: gold.length,
    labelledTexts,
    coverage: gold.length === 0 ? null : labelledTexts / gold.length,
  };
}

/** Change of each headline (and the overall mean) from a baseline run to a candidate run, with paired bootstrap intervals. */
export interface ScoreDelta {
  dimensions: { key: string; baseline: number | null; candidate: number | null; delta: number | null; interval: Interval | null }[];
  overall: { baseline: number | null; candidate: number | null; delta: number | null; interval: Interval | null };
}

/**
 * Headline differences candidate - baseline on the same gold texts. Both runs are scored on the
 * same resamples, so the interval is of the difference itself: a change whose interval holds 0
 * is not shown to be a change.
 */
export function scoreDelta(taxonomy: Taxonomy, gold: readonly GoldItem[], baseline: RunLabels, candidate: RunLabels, bootstrap: BootstrapOptions = {}): ScoreDelta {
  const dims = taxonomy.dimensions.filter((d) => gold.some((g) => d.key in g.labels));
  const base = new Map(dims.map((d) => [d.key, pairsByItem(d, gold, baseline)]));
  const cand = new Map(dims.map((d) => [d.key, pairsByItem(d, gold, candidate)]));
  const diff = (d: Dimension, idx: readonly number[]) => {
    const a = headlineOf(d, pick(base.get(d.key)!, idx));
    const b = headlineOf(d, pick(cand.get(d.key)!, idx));
    return a === null || b === null ? null : b - a;
  };
  const all = gold.map((_, k) => k);
  const statistics: Record<string, (idx: readonly number[]) => number | null> = {};
  for (const d of dims) statistics[d.key] = (idx) => diff(d, idx);
  statistics[OVERALL] = (idx) => {
    const a = mean(dims.map((d) => headlineOf(d, pick(base.get(d.key)!, idx))));
    const b = mean(dims.map((d) => headlineOf(d, pick(cand.get(d.key)!, idx))));
    return a === null || b === null ? null : b - a;
  };
  const intervals = bootstrapIntervals(gold.length, statistics, bootstrap);
  const point = (d: Dimension) => ({
    baseline: headlineOf(d, pick(base.get(d.key)!, all)),
    candidate: headlineOf(d, pick(cand.get(d.key)!, all)),
  });
  const dimensions = dims.map((d) => {
    const p = point(d);
    return { key: d.key, ...p, delta: p.baseline === null || p.candidate === null ? null : p.candidate - p.baseline, interval: intervals[d.key] ?? null };
  });
  const baseOverall = mean(dimensions.map((d) => d.baseline));
  const candOverall = mean(dimensions.map((d) => d.candidate));
  return {
    dimensions,
    overall: {
      baseline: baseOverall,
      candidate: candOverall,
      delta: baseOverall === null || candOverall === null ? null : candOverall - baseOverall,
      interval: intervals[OVERALL] ?? null,
    },
  };
}

const OVERALL = "\u0000overall";

/** The defined entries of `xs` at the given indices (a resample may repeat an index). */
export function pick<T>(xs: readonly (T | undefined)[], indices: readonly number[]): T[] {
  const out: T[] = [];
  for (const k of indices) {
    const x = xs[k];
    if (x !== undefined) out.push(x);
  }
  return out;
}

/** Mean of the non-null numbers; null when there are none. */
export function mean(xs: readonly (number | null)[]): number | null {
  const defined = xs.filter((x): x is number => x !== null);
  return defined.length === 0 ? null : defined.reduce((s, x) => s + x, 0) / defined.length;
}
