import type { LabelValue } from "../../core/contracts/result.ts";
import type { Taxonomy } from "../../core/taxonomy/taxonomy-schema.ts";
import { bootstrapIntervals, type BootstrapOptions, type Interval } from "./metrics/bootstrap.ts";
import { jaccard } from "./metrics/multi-choice.ts";
import { asList, sameLabel } from "./dimension-scores.ts";
import { mean, pick, type RunLabels } from "./score-run.ts";

/** How often repeated runs of the same texts agree with each other, for one dimension. */
export interface DimensionConsistency {
  key: string;
  /** Mean over texts of the share of run pairs that agree (mean Jaccard of the pairs for multi choice). */
  pairwiseAgreement: number | null;
  interval: Interval | null;
  /** Share of texts every run labelled the same way. */
  stable: number | null;
  /** Texts labelled by at least two runs. */
  texts: number;
}

/**
 * Self-consistency of N runs of the same texts: for each text, every pair of runs that labelled
 * it is compared (exact match, or Jaccard for multi choice) and the shares are averaged over
 * texts. At temperature 0.5 this is the chance that asking twice gives the same answer.
 */
export function selfConsistency(taxonomy: Taxonomy, ids: readonly string[], runs: readonly RunLabels[], bootstrap: BootstrapOptions = {}): DimensionConsistency[] {
  const perText = new Map(
    taxonomy.dimensions.map((d) => [
      d.key,
      ids.map((id): { agreement: number; stable: boolean } | undefined => {
        const values = runs.flatMap((r) => {
          const labels = r.get(id);
          return labels && d.key in labels ? [labels[d.key]!] : [];
        });
        if (values.length < 2) return undefined;
        const scores: number[] = [];
        for (let x = 0; x < values.length; x++) for (let y = x + 1; y < values.length; y++) scores.push(pairScore(d.kind, values[x]!, values[y]!));
        return { agreement: mean(scores)!, stable: values.every((v) => sameLabel(v, values[0]!)) };
      }),
    ]),
  );
  const dims = taxonomy.dimensions.filter((d) => perText.get(d.key)!.some((t) => t !== undefined));
  const statistics = Object.fromEntries(dims.map((d) => [d.key, (idx: readonly number[]) => mean(pick(perText.get(d.key)!, idx).map((t) => t.agreement))]));
  const intervals = bootstrapIntervals(ids.length, statistics, bootstrap);
  return dims.map((d) => {
    const texts = perText.get(d.key)!.filter((t) => t !== undefined);
    return {
      key: d.key,
      pairwiseAgreement: mean(texts.map((t) => t.agreement)),
      interval: intervals[d.key] ?? null,
      stable: texts.length === 0 ? null : texts.filter((t) => t.stable).length / texts.length,
      texts: texts.length,
    };
  });
}

function pairScore(kind: string, a: LabelValue, b: LabelValue): number {
  return kind === "multi" ? jaccard(new Set(asList(a)), new Set(asList(b))) : sameLabel(a, b) ? 1 : 0;
}
