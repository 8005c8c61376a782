import type { LabelValue } from "../../core/contracts/result.ts";
import type { Dimension } from "../../core/taxonomy/taxonomy-schema.ts";
import { accuracy, binaryScores, type Confusion, type LabelScores, macroF1, perLabelScores, topConfusions } from "./metrics/classification.ts";
import { meanAbsoluteError, quadraticWeightedKappa } from "./metrics/ordinal.ts";
import { multiChoiceScores } from "./metrics/multi-choice.ts";

/** A gold label and the label a run gave the same text, for one dimension. */
export interface LabelPair {
  gold: LabelValue;
  predicted: LabelValue;
}

/** The metrics of one dimension, by kind. Every rate is in [0, 1]; null where it is undefined. */
export type DimensionMetrics =
  | { kind: "single"; accuracy: number | null; macroF1: number | null; perLabel: LabelScores[]; confusions: Confusion[] }
  | {
      kind: "scale";
      /** On texts where both sides gave a number. */
      quadraticKappa: number | null;
      meanAbsoluteError: number | null;
      /** Exact matches, null = null included. */
      accuracy: number | null;
      /** Both said "not applicable" (null), or both gave a number. */
      nullAgreement: number | null;
      numericPairs: number;
      confusions: Confusion[];
      /** How often each scale point (and null) is the gold answer and the prediction. */
      distribution: { value: string; gold: number; predicted: number }[];
    }
  | {
      kind: "multi";
      microPrecision: number | null;
      microRecall: number | null;
      /** Null when neither side gave a label on any text (see multiChoiceScores). */
      microF1: number | null;
      macroF1: number | null;
      meanJaccard: number | null;
      /** Texts where neither side gave a label: micro-F1 is undefined on them. */
      noLabelTexts: number;
      perLabel: LabelScores[];
    }
  | { kind: "boolean"; precision: number; recall: number; f1: number | null; accuracy: number | null; positives: number };

/** The metric each kind is judged by: accuracy, quadratic kappa, micro-F1, F1 of true. */
export const HEADLINE_METRIC: Record<Dimension["kind"], string> = {
  single: "accuracy",
  scale: "quadratic kappa",
  multi: "micro-F1",
  boolean: "F1",
};

/** All metrics of one dimension over its pairs. */
export function dimensionMetrics(dimension: Dimension, pairs: readonly LabelPair[]): DimensionMetrics {
  switch (dimension.kind) {
    case "single": {
      const gold = pairs.map((p) => String(p.gold));
      const predicted = pairs.map((p) => String(p.predicted));
      const perLabel = perLabelScores(gold, predicted, dimension.labels.map((l) => l.name));
      return { kind: "single", accuracy: accuracy(gold, predicted), macroF1: macroF1(perLabel), perLabel, confusions: topConfusions(gold, predicted) };
    }
    case "scale": {
      const numeric = pairs.filter((p): p is { gold: number; predicted: number } => typeof p.gold === "number" && typeof p.predicted === "number");
      const gold = numeric.map((p) => p.gold);
      const predicted = numeric.map((p) => p.predicted);
      const shown = (v: LabelValue) => (v === null ? "null" : String(v));
      return {
        kind: "scale",
        quadraticKappa: quadraticWeightedKappa(gold, predicted, dimension.min, dimension.max),
        meanAbsoluteError: meanAbsoluteError(gold, predicted),
        accuracy: accuracy(pairs.map((p) => p.gold), pairs.map((p) => p.predicted)),
        nullAgreement: pairs.length === 0 ? null : pairs.filter((p) => (p.gold === null) === (p.predicted === null)).length / pairs.length,
        numericPairs: numeric.length,
        confusions: topConfusions(pairs.map((p) => shown(p.gold)), pairs.map((p) => shown(p.predicted))),
        distribution: [...Array.from({ length: dimension.max - dimension.min + 1 }, (_, k) => String(dimension.min + k)), ...(dimension.nullable ? ["null"] : [])].map(
          (value) => ({
            value,
            gold: pairs.filter((p) => shown(p.gold) === value).length,
            predicted: pairs.filter((p) => shown(p.predicted) === value).length,
          }),
        ),
      };
    }
    case "multi": {
      const scores = multiChoiceScores(pairs.map((p) => asList(p.gold)), pairs.map((p) => asList(p.predicted)));
      return { kind: "multi", ...scores };
    }
    case "boolean": {
      const both = pairs.filter((p): p is { gold: boolean; predicted: boolean } => typeof p.gold === "boolean" && typeof p.predicted === "boolean");
      const gold = both.map((p) => p.gold);
      const predicted = both.map((p) => p.predicted);
      const s = binaryScores(gold, predicted);
      const anyTrue = s.support > 0 || predicted.some(Boolean);
      return { kind: "boolean", precision: s.precision, recall: s.recall, f1: anyTrue ? s.f1 : null, accuracy: accuracy(gold, predicted), positives: s.support };
    }
  }
}

/** The headline number of a dimension's metrics (see HEADLINE_METRIC). */
export function headline(metrics: DimensionMetrics): number | null {
  switch (metrics.kind) {
    case "single":
      return metrics.accuracy;
    case "scale":
      return metrics.quadraticKappa;
    case "multi":
      return metrics.microF1;
    case "boolean":
      return metrics.f1;
  }
}

/** Only the headline number, computed without the rest (bootstrap resamples call this thousands of times). */
export function headlineOf(dimension: Dimension, pairs: readonly LabelPair[]): number | null {
  if (pairs.length === 0) return null;
  if (dimension.kind === "single") return accuracy(pairs.map((p) => p.gold), pairs.map((p) => p.predicted));
  if (dimension.kind === "scale") {
    const numeric = pairs.filter((p): p is { gold: number; predicted: number } => typeof p.gold === "number" && typeof p.predicted === "number");
    return quadraticWeightedKappa(numeric.map((p) => p.gold), numeric.map((p) => p.predicted), dimension.min, dimension.max);
  }
  return headline(dimensionMetrics(dimension, pairs));
}

/**
 * How many of the pairs the headline number is computed from: the texts a threshold on it rests
 * on. Scale kappa counts only pairs with a number on both sides, micro-F1 only texts where some
 * label was given, F1 of true only pairs with yes or no on both sides.
 */
export function headlineTexts(dimension: Dimension, pairs: readonly LabelPair[]): number {
  switch (dimension.kind) {
    case "single":
      return pairs.length;
    case "scale":
      return pairs.filter((p) => typeof p.gold === "number" && typeof p.predicted === "number").length;
    case "multi":
      return pairs.filter((p) => asList(p.gold).length > 0 || asList(p.predicted).length > 0).length;
    case "boolean":
      return pairs.filter((p) => typeof p.gold === "boolean" && typeof p.predicted === "boolean").length;
  }
}

/** A label value as a list (multi-choice values; anything else is no list). */
export function asList(value: LabelValue): string[] {
  return Array.isArray(value) ? value : [];
}

/** Whether two label values are the same answer (multi-choice lists compared as sets). */
export function sameLabel(a: LabelValue, b: LabelValue): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    const x = new Set(a);
    const y = new Set(b);
    return x.size === y.size && [...x].every((v) => y.has(v));
  }
  return a === b;
}
