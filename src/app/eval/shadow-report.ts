import type { LabelValue } from "../../core/contracts/result.ts";
import type { ShadowPairCount } from "../../adapters/dynamodb/dynamo-shadow-summary.ts";
import type { Taxonomy } from "../../core/taxonomy/taxonomy-schema.ts";
import { sameLabel } from "./dimension-scores.ts";
import { table, num } from "./format-terminal.ts";
import { agreementOf } from "./run-agreement.ts";

/** Agreement between an alias's version and its shadow on one dimension, from the summed pair counts. */
export interface ShadowAgreement {
  key: string;
  metric: "kappa" | "weighted kappa" | "mean Jaccard";
  value: number | null;
  exactAgreement: number | null;
  compared: number;
  /** The most frequent disagreements, baseline -> shadow. */
  disagreements: { baseline: LabelValue; shadow: LabelValue; count: number }[];
}

const METRIC = { single: "kappa", boolean: "kappa", scale: "weighted kappa", multi: "mean Jaccard" } as const;

/** The same agreement metrics `--against` reports, computed from a shadow summary's pair counts. */
export function shadowAgreement(taxonomy: Taxonomy, counts: Record<string, ShadowPairCount[]>): ShadowAgreement[] {
  return taxonomy.dimensions
    .filter((d) => counts[d.key] !== undefined)
    .map((d) => {
      const pairs = counts[d.key]!.flatMap((p) => Array.from({ length: p.count }, () => ({ a: p.baseline, b: p.shadow })));
      const same = counts[d.key]!.filter((p) => sameLabel(p.baseline, p.shadow)).reduce((s, p) => s + p.count, 0);
      return {
        key: d.key,
        metric: METRIC[d.kind],
        value: agreementOf(d, pairs),
        exactAgreement: pairs.length === 0 ? null : same / pairs.length,
        compared: pairs.length,
        disagreements: counts[d.key]!.filter((p) => !sameLabel(p.baseline, p.shadow))
          .sort((x, y) => y.count - x.count)
          .slice(0, 3)
          .map((p) => ({ baseline: p.baseline, shadow: p.shadow, count: p.count })),
      };
    });
}

/** The shadow agreement table for the terminal. */
export function formatShadowAgreement(title: string, rows: readonly ShadowAgreement[]): string {
  if (rows.length === 0) return `${title}\nno shadow comparisons recorded yet`;
  return `${title}\n${table(
    ["dimension", "compared", "agreement", "value", "exact", "top disagreements (baseline -> shadow)"],
    rows.map((r) => [
      r.key,
      String(r.compared),
      r.metric,
      num(r.value),
      r.exactAgreement === null ? "n/a" : `${(r.exactAgreement * 100).toFixed(1)}%`,
      r.disagreements.map((d) => `${JSON.stringify(d.baseline)}->${JSON.stringify(d.shadow)} ${d.count}`).join("; "),
    ]),
  )}`;
}
