import { sameValue } from "../../core/classify/label-cascade.ts";
import type { GoldItem } from "../eval/gold-set.ts";
import type { LabelRun } from "../eval/label-gold-texts.ts";

/** One route's figures on a set of texts whose reference labels are known (the teacher's, held out). */
export interface RouteFigures {
  route: string;
  texts: number;
  /** Texts the route gave labels for. */
  labelled: number;
  /** Share of (text, dimension) pairs whose label equals the reference, over labelled texts; null when none was. */
  agreement: number | null;
  modelCalls: number;
  costUsd: number;
  /** Dollars per 1,000 texts asked, at list price. */
  costPer1k: number;
}

/** Agreement with `reference` and cost per 1,000 texts of one labelling run. */
export function routeFigures(route: string, reference: readonly GoldItem[], run: Pick<LabelRun, "labels" | "usage">): RouteFigures {
  let pairs = 0;
  let agreed = 0;
  let labelled = 0;
  for (const item of reference) {
    const labels = run.labels.get(item.id);
    if (!labels) continue;
    labelled += 1;
    for (const [key, expected] of Object.entries(item.labels)) {
      pairs += 1;
      if (sameValue(labels[key] ?? null, expected)) agreed += 1;
    }
  }
  const texts = reference.length;
  return {
    route,
    texts,
    labelled,
    agreement: pairs === 0 ? null : agreed / pairs,
    modelCalls: run.usage.modelCalls,
    costUsd: run.usage.costUsd,
    costPer1k: texts === 0 ? 0 : (1000 * run.usage.costUsd) / texts,
  };
}

/** The figures as a table: route, texts labelled, agreement with the teacher, calls, cost per 1,000 texts. */
export function formatRouteFigures(rows: readonly RouteFigures[]): string {
  const header = ["route", "labelled", "agreement with teacher", "model calls", "$ per 1,000 texts"];
  const body = rows.map((r) => [r.route, `${r.labelled}/${r.texts}`, r.agreement === null ? "n/a" : `${(100 * r.agreement).toFixed(1)} %`, String(r.modelCalls), `$${r.costPer1k.toFixed(4)}`]);
  const widths = header.map((h, k) => Math.max(h.length, ...body.map((row) => row[k]!.length)));
  return [header, ...body].map((row) => row.map((c, k) => c.padEnd(widths[k]!)).join("  ").trimEnd()).join("\n");
}
