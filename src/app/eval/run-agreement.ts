import type { LabelValue } from "../../core/contracts/result.ts";
import type { Dimension, Taxonomy } from "../../core/taxonomy/taxonomy-schema.ts";
import { cohenKappa } from "./metrics/agreement.ts";
import { bootstrapIntervals, type BootstrapOptions, type Interval } from "./metrics/bootstrap.ts";
import { jaccard } from "./metrics/multi-choice.ts";
import { quadraticWeightedKappa } from "./metrics/ordinal.ts";
import { asList, sameLabel } from "./dimension-scores.ts";
import { mean, pick, type RunLabels } from "./score-run.ts";

/** Two runs' labels of one text for one dimension. */
interface RunPair {
  a: LabelValue;
  b: LabelValue;
}

/** How much two runs agree on one dimension, without gold labels. */
export interface DimensionAgreement {
  key: string;
  kind: Dimension["kind"];
  /** Cohen's kappa (single choice, yes/no), quadratic-weighted kappa (scales), mean Jaccard (multi choice). */
  metric: "kappa" | "weighted kappa" | "mean Jaccard";
  value: number | null;
  interval: Interval | null;
  /** Share of texts given exactly the same label (sets for multi choice). */
  exactAgreement: number | null;
  /** Texts both runs labelled. */
  texts: number;
}

/** A text whose label changed between the runs. */
export interface Flip {
  id: string;
  dimension: string;
  a: LabelValue;
  b: LabelValue;
}

export interface RunAgreement {
  dimensions: DimensionAgreement[];
  flips: Flip[];
  /** Texts both runs labelled, out of the texts either was asked about. */
  sharedTexts: number;
}

/** The agreement statistic of one dimension over pairs of labels from two runs. */
export function agreementOf(d: Dimension, pairs: readonly RunPair[]): number | null {
  if (pairs.length === 0) return null;
  switch (d.kind) {
    case "single":
    case "boolean":
      return cohenKappa(pairs.map((p) => p.a), pairs.map((p) => p.b));
    case "scale": {
      const numeric = pairs.filter((p): p is { a: number; b: number } => typeof p.a === "number" && typeof p.b === "number");
      return quadraticWeightedKappa(numeric.map((p) => p.a), numeric.map((p) => p.b), d.min, d.max);
    }
    case "multi":
      return mean(pairs.map((p) => jaccard(new Set(asList(p.a)), new Set(asList(p.b)))));
  }
}

const METRIC: Record<Dimension["kind"], DimensionAgreement["metric"]> = { single: "kappa", boolean: "kappa", scale: "weighted kappa", multi: "mean Jaccard" };

/** Per-dimension agreement between two runs over the texts both labelled, and every flip. */
export function runAgreement(taxonomy: Taxonomy, ids: readonly string[], a: RunLabels, b: RunLabels, bootstrap: BootstrapOptions = {}): RunAgreement {
  const shared = ids.filter((id) => a.get(id) && b.get(id));
  const byDim = new Map(
    taxonomy.dimensions.map((d) => [
      d.key,
      shared.map((id): (RunPair & { id: string }) | undefined => {
        const la = a.get(id)!;
        const lb = b.get(id)!;
        return d.key in la && d.key in lb ? { id, a: la[d.key]!, b: lb[d.key]! } : undefined;
      }),
    ]),
  );
  const dims = taxonomy.dimensions.filter((d) => byDim.get(d.key)!.some((p) => p !== undefined));
  const statistics = Object.fromEntries(dims.map((d) => [d.key, (idx: readonly number[]) => agreementOf(d, pick(byDim.get(d.key)!, idx))]));
  const intervals = bootstrapIntervals(shared.length, statistics, bootstrap);
  const flips: Flip[] = [];
  const dimensions = dims.map((d): DimensionAgreement => {
    const pairs = byDim.get(d.key)!.filter((p) => p !== undefined);
    const same = pairs.filter((p) => sameLabel(p.a, p.b)).length;
    for (const p of pairs) if (!sameLabel(p.a, p.b)) flips.push({ id: p.id, dimension: d.key, a: p.a, b: p.b });
    return {
      key: d.key,
      kind: d.kind,
      metric: METRIC[d.kind],
      value: agreementOf(d, pairs),
      interval: intervals[d.key] ?? null,
      exactAgreement: pairs.length === 0 ? null : same / pairs.length,
      texts: pairs.length,
    };
  });
  return { dimensions, flips, sharedTexts: shared.length };
}
