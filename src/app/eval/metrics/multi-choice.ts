import { type LabelScores, prf } from "./classification.ts";

/** Micro- and macro-averaged F1 and mean Jaccard of a multi-choice dimension (sets of labels per text). */
export interface MultiChoiceScores {
  /** Null, like recall and F1, when neither side gave a single label on any text: there is nothing to count. */
  microPrecision: number | null;
  microRecall: number | null;
  /**
   * F1 over the label decisions of every text pooled. A text where neither side gave a label adds
   * no decision, so micro-F1 says nothing about it (see `noLabelTexts`); when every text is such a
   * text it is undefined (null), never 0: a 0 would read as total disagreement where both sides agree.
   */
  microF1: number | null;
  /** Mean F1 over every label used as gold or prediction; null when no label was used at all. */
  macroF1: number | null;
  /** Mean over texts of |gold ∩ predicted| / |gold ∪ predicted|; two empty sets agree fully (1). */
  meanJaccard: number | null;
  /** Texts where neither side gave a label: micro-F1 is undefined on them, Jaccard counts them as agreement. */
  noLabelTexts: number;
  /** Precision, recall and F1 of each label used as gold or prediction, in first-seen order. */
  perLabel: LabelScores[];
}

/** Score predicted label sets against gold label sets, text by text. */
export function multiChoiceScores(gold: readonly (readonly string[])[], predicted: readonly (readonly string[])[]): MultiChoiceScores {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let noLabelTexts = 0;
  const perLabel = new Map<string, { tp: number; fp: number; fn: number }>();
  const cell = (label: string) => perLabel.get(label) ?? perLabel.set(label, { tp: 0, fp: 0, fn: 0 }).get(label)!;
  let jaccardSum = 0;
  gold.forEach((gList, k) => {
    const g = new Set(gList);
    const p = new Set(predicted[k]);
    if (g.size === 0 && p.size === 0) noLabelTexts += 1;
    for (const label of p) {
      if (g.has(label)) {
        tp += 1;
        cell(label).tp += 1;
      } else {
        fp += 1;
        cell(label).fp += 1;
      }
    }
    for (const label of g) {
      if (!p.has(label)) {
        fn += 1;
        cell(label).fn += 1;
      }
    }
    jaccardSum += jaccard(g, p);
  });
  const counted = tp + fp + fn > 0;
  const micro = prf(tp, fp, fn);
  const labelScores = [...perLabel.entries()].map(([label, c]) => ({ label, ...prf(c.tp, c.fp, c.fn), support: c.tp + c.fn }));
  const f1s = labelScores.map((x) => x.f1);
  return {
    microPrecision: counted ? micro.precision : null,
    microRecall: counted ? micro.recall : null,
    microF1: counted ? micro.f1 : null,
    macroF1: f1s.length === 0 ? null : f1s.reduce((s, x) => s + x, 0) / f1s.length,
    meanJaccard: gold.length === 0 ? null : jaccardSum / gold.length,
    noLabelTexts,
    perLabel: labelScores,
  };
}

/** |a ∩ b| / |a ∪ b|, and 1 when both are empty (nothing to disagree about). */
export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  let both = 0;
  for (const x of a) if (b.has(x)) both += 1;
  return both / (a.size + b.size - both);
}
