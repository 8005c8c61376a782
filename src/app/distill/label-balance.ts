import type { LabelValue } from "../../core/contracts/result.ts";
import type { Dimension, Taxonomy } from "../../core/taxonomy/taxonomy-schema.ts";
import { possibleValues } from "../eval/gold-set.ts";

/** How often one answer of a dimension is the teacher's label among the texts. */
export interface ValueShare {
  /** A label name, a scale point, "true"/"false", "null", or "[]" for a multi-choice answer with no label. */
  value: string;
  count: number;
  /** count / texts: for a multi-choice dimension, the share of texts that carry the label. */
  share: number;
}

/** The balance of one dimension's labels, and the answers too rare to learn. */
export interface DimensionBalance {
  key: string;
  kind: Dimension["kind"];
  values: ValueShare[];
  /** Answers with fewer than the minimum examples (none at all included): the student sees too few to learn them. */
  thin: string[];
}

/** Label balance per dimension over some texts' labels; `minExamples` decides which answers are too thin. */
export function labelBalance(taxonomy: Taxonomy, labels: readonly Record<string, LabelValue>[], minExamples: number): DimensionBalance[] {
  return taxonomy.dimensions.map((d) => {
    const answers = possibleValues(d);
    if (d.kind === "multi" && d.minItems === 0) answers.push("[]");
    const counts = new Map(answers.map((v) => [v, 0]));
    for (const l of labels) {
      for (const v of valuesOf(l[d.key] ?? null)) counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    const values = [...counts].map(([value, count]) => ({ value, count, share: labels.length === 0 ? 0 : count / labels.length }));
    return { key: d.key, kind: d.kind, values, thin: values.filter((v) => v.count < minExamples).map((v) => v.value) };
  });
}

/** The answers a label counts for: each label of a list ("[]" for none), or the value itself as text. */
function valuesOf(value: LabelValue): string[] {
  if (Array.isArray(value)) return value.length === 0 ? ["[]"] : value;
  return [String(value)];
}
