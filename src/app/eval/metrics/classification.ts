/** Precision, recall and F1 of one label (or of the positive class of a yes/no question). */
export interface LabelScores {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  /** How often the label is the gold answer. */
  support: number;
}

/** One kind of mistake: the gold label and what was predicted instead, with how often it happened. */
export interface Confusion {
  gold: string;
  predicted: string;
  count: number;
}

/** Precision, recall and F1 from counts; a ratio with nothing to divide by is 0, as scikit-learn reports it. */
export function prf(tp: number, fp: number, fn: number): { precision: number; recall: number; f1: number } {
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1 };
}

/** Share of pairs where the prediction equals the gold label; null for no pairs. */
export function accuracy<T>(gold: readonly T[], predicted: readonly T[]): number | null {
  if (gold.length === 0) return null;
  let same = 0;
  gold.forEach((g, k) => (same += g === predicted[k] ? 1 : 0));
  return same / gold.length;
}

/**
 * Per-label precision, recall and F1 of a single-choice dimension, over every label that
 * occurs as gold or as prediction (a label nobody used says nothing either way), in the
 * order given by `labels` where they appear there, then in first-seen order.
 */
export function perLabelScores(gold: readonly string[], predicted: readonly string[], labels: readonly string[] = []): LabelScores[] {
  const seen = new Set([...gold, ...predicted]);
  const order = [...labels.filter((l) => seen.has(l)), ...[...seen].filter((l) => !labels.includes(l))];
  return order.map((label) => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    gold.forEach((g, k) => {
      const p = predicted[k];
      if (g === label && p === label) tp += 1;
      else if (p === label) fp += 1;
      else if (g === label) fn += 1;
    });
    return { label, ...prf(tp, fp, fn), support: tp + fn };
  });
}

/** Unweighted mean of the per-label F1 scores; null when there are none. */
export function macroF1(scores: readonly LabelScores[]): number | null {
  return scores.length === 0 ? null : scores.reduce((s, x) => s + x.f1, 0) / scores.length;
}

/** The off-diagonal cells of the confusion matrix, most frequent first (ties by gold, then predicted label). */
export function topConfusions(gold: readonly string[], predicted: readonly string[], limit = 5): Confusion[] {
  const counts = new Map<string, Confusion>();
  gold.forEach((g, k) => {
    const p = predicted[k]!;
    if (g === p) return;
    const key = JSON.stringify([g, p]);
    const cell = counts.get(key) ?? { gold: g, predicted: p, count: 0 };
    cell.count += 1;
    counts.set(key, cell);
  });
  return [...counts.values()]
    .sort((a, b) => b.count - a.count || a.gold.localeCompare(b.gold) || a.predicted.localeCompare(b.predicted))
    .slice(0, limit);
}

/** Precision, recall and F1 of `true` for a yes/no dimension. */
export function binaryScores(gold: readonly boolean[], predicted: readonly boolean[]): { precision: number; recall: number; f1: number; support: number } {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  gold.forEach((g, k) => {
    const p = predicted[k];
    if (g && p) tp += 1;
    else if (p) fp += 1;
    else if (g) fn += 1;
  });
  return { ...prf(tp, fp, fn), support: tp + fn };
}
