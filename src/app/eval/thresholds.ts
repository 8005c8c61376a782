import { InvalidRequestError } from "../../core/errors/errors.ts";
import type { RunScore } from "./score-run.ts";

/** A minimum for the overall score or one dimension's headline number. */
export interface Threshold {
  /** "overall" or a dimension key. */
  target: string;
  min: number;
}

/**
 * What a threshold needs besides its number: a score over the texts that failed says nothing about
 * them, so a run where most texts got no labels must not pass on the few that did.
 */
export interface CoverageGate {
  /** Least share of the asked texts with valid labels (the run's for overall, the dimension's for a dimension). */
  minCoverage: number;
  /** Least number of texts the score is computed from. */
  minTexts: number;
}

/** 95 %: a run that lost more than 1 text in 20 is not judged by the rest. */
export const DEFAULT_MIN_COVERAGE = 0.95;
/** Below 30 texts a 95 % interval of a rate is about ±0.18 wide or more: too wide to pass or fail a run on. */
export const DEFAULT_MIN_TEXTS = 30;

export interface ThresholdCheck extends Threshold {
  value: number | null;
  /** Share of the asked texts with valid labels for the target (run or dimension); null for none asked. */
  coverage: number | null;
  /** Texts the value is computed from. */
  texts: number;
  passed: boolean;
  /** Why it failed, one phrase per reason; empty when it passed. */
  failures: string[];
}

/** The run's coverage as a gate of its own. */
export interface CoverageCheck {
  asked: number;
  labelled: number;
  coverage: number | null;
  min: number;
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

/**
 * Check each threshold against a run's scores. A threshold fails when its value is undefined (n/a)
 * or below the minimum, when too small a share of the texts was labelled, or when the value rests
 * on fewer than `gate.minTexts` texts.
 */
export function checkThresholds(thresholds: readonly Threshold[], score: RunScore, gate: CoverageGate): ThresholdCheck[] {
  return thresholds.map((t) => {
    const dimension = t.target === "overall" ? undefined : score.dimensions.find((d) => d.key === t.target);
    const value = t.target === "overall" ? score.overall.value : (dimension?.headline ?? null);
    const coverage = t.target === "overall" ? score.coverage : (dimension?.coverage ?? null);
    const texts = t.target === "overall" ? score.labelledTexts : (dimension?.scoredTexts ?? 0);
    const failures: string[] = [];
    if (value === null) failures.push("undefined");
    else if (value < t.min) failures.push(`below ${t.min}`);
    if (coverage === null || coverage < gate.minCoverage) failures.push(`coverage ${percent(coverage)} < ${percent(gate.minCoverage)}`);
    if (texts < gate.minTexts) failures.push(`${texts} texts < ${gate.minTexts}`);
    return { ...t, value, coverage, texts, passed: failures.length === 0, failures };
  });
}

/** The run's coverage (texts with valid labels / texts asked) against the minimum. */
export function checkCoverage(score: RunScore, minCoverage: number): CoverageCheck {
  return {
    asked: score.texts,
    labelled: score.labelledTexts,
    coverage: score.coverage,
    min: minCoverage,
    passed: score.coverage !== null && score.coverage >= minCoverage,
  };
}

function percent(x: number | null): string {
  return x === null ? "n/a" : `${(x * 100).toFixed(1)}%`;
}
