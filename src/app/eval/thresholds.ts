import { InvalidRequestError } from "../../core/errors/errors.ts";
import type { RunScore } from "./score-run.ts";

/** A minimum for the overall score or one dimension's headline number. */
export interface Threshold {
  /** "overall" or a dimension key. */
  target: string;
  min: number;
}

export interface ThresholdCheck extends Threshold {
  value: number | null;
  passed: boolean;
}

/**
 * Parse `--min` values: `0.7` (overall), `overall=0.7`, `sentiment_polarity=0.8`; several may
 * be given, comma-separated or as repeated flags. Dimension keys are checked against the
 * taxonomy before anything is labelled.
 */
export function parseThresholds(specs: readonly string[], dimensionKeys: readonly string[]): Threshold[] {
  return specs
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((spec) => {
      const [target, raw] = spec.includes("=") ? (spec.split("=", 2) as [string, string]) : ["overall", spec];
      const min = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(min) || min < -1 || min > 1) {
        throw new InvalidRequestError(`--min ${spec}: the minimum must be a number from -1 to 1 (kappa can be negative), not "${raw}"`);
      }
      if (target !== "overall" && !dimensionKeys.includes(target)) {
        throw new InvalidRequestError(`--min ${spec}: "${target}" is not "overall" nor a dimension of the taxonomy (${dimensionKeys.join(", ")})`);
      }
      return { target, min };
    });
}

/** Check each threshold against a run's scores; an undefined (n/a) or unscored value fails. */
export function checkThresholds(thresholds: readonly Threshold[], score: RunScore): ThresholdCheck[] {
  return thresholds.map((t) => {
    const value = t.target === "overall" ? score.overall.value : (score.dimensions.find((d) => d.key === t.target)?.headline ?? null);
    return { ...t, value, passed: value !== null && value >= t.min };
  });
}
