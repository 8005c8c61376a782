import { seededRandom } from "../../../core/util/seeded-random.ts";

/** A 95 % (or other) interval around a point estimate. */
export interface Interval {
  low: number;
  high: number;
}

export interface BootstrapOptions {
  /** Resamples drawn; default 1,000. */
  resamples?: number;
  /** PRNG seed, so the same data always give the same interval; default 1. */
  seed?: number;
  /** Coverage of the interval; default 0.95. */
  level?: number;
}

/**
 * Percentile bootstrap over items: draw `resamples` samples of n item indices with replacement,
 * compute every statistic on each (the same resample for all of them, so differences between
 * statistics are paired), and take the (1 - level)/2 and (1 + level)/2 quantiles. A statistic
 * that is undefined on a resample (null) is left out of that statistic's quantiles; an interval
 * is null when fewer than half the resamples defined it.
 */
export function bootstrapIntervals<K extends string>(
  n: number,
  statistics: Record<K, (indices: readonly number[]) => number | null>,
  options: BootstrapOptions = {},
): Record<K, Interval | null> {
  const resamples = options.resamples ?? 1_000;
  const level = options.level ?? 0.95;
  const random = seededRandom(options.seed ?? 1);
  const keys = Object.keys(statistics) as K[];
  const draws = new Map<K, number[]>(keys.map((k) => [k, []]));
  const indices = new Array<number>(n);
  for (let r = 0; r < resamples && n > 0; r++) {
    for (let t = 0; t < n; t++) indices[t] = Math.floor(random() * n);
    for (const key of keys) {
      const value = statistics[key](indices);
      if (value !== null && Number.isFinite(value)) draws.get(key)!.push(value);
    }
  }
  return Object.fromEntries(
    keys.map((key) => {
      const values = draws.get(key)!.sort((x, y) => x - y);
      if (values.length === 0 || values.length < resamples / 2) return [key, null];
      return [key, { low: quantile(values, (1 - level) / 2), high: quantile(values, (1 + level) / 2) }];
    }),
  ) as Record<K, Interval | null>;
}

/** Linear-interpolated quantile q of sorted values (type 7, as R and NumPy default). */
export function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
