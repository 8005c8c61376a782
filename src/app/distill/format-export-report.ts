import { table } from "../eval/format-terminal.ts";
import type { ExportReport } from "./export-training-set.ts";

/** The export report for the terminal: splits, what was left out and why, label balance per dimension, warnings. */
export function formatExportReport(report: ExportReport): string {
  const out: string[] = [];
  const n = (x: number) => x.toLocaleString("en");
  out.push(`labelq distill export · ${report.taxonomy} prompt ${report.promptVersion} · ${report.job} of ${report.student} (${report.models}) · seed ${report.seed}`);
  out.push("");
  const { train, validation, heldout } = report.splits;
  out.push(
    table(
      ["split", "texts", "records", "tokens", "file"],
      [
        ["train", n(train.texts), n(train.records), n(train.tokens), train.file ?? "(none)"],
        ["validation", n(validation.texts), n(validation.records), n(validation.tokens), validation.file ?? "(none)"],
        ["heldout", n(heldout.texts), "-", "-", heldout.file ? `${heldout.file} (gold set for labelq eval --gold)` : "(none)"],
      ],
    ),
  );
  const t = report.tokens;
  out.push(`tokens per record: max ${n(t.maxPerRecord)}, mean ${n(Math.round(t.meanPerRecord))} (limit ${n(report.limits.maxRecordTokens)}); records: ${n(train.records + validation.records)} (limit ${n(report.limits.maxRecords)})`);
  const i = report.input;
  const left = [
    [i.withoutLabels, "with an item error"],
    [i.otherTaxonomy, "of another taxonomy"],
    [sum(i.otherPromptVersion), `under another prompt version (${entries(i.otherPromptVersion)})`],
    [sum(i.otherTeacher), `by another model (${entries(i.otherTeacher)})`],
    [sum(i.routedToStudent), `routed to a student (${entries(i.routedToStudent)}; --teacher <model> keeps a model's labels)`],
    [i.withoutText, "without a text in --texts"],
    [i.ambiguousText, "whose id names different texts"],
    [i.invalidLabels, "with labels that do not fit the taxonomy"],
    [i.duplicates, `repeating a text (${i.conflictingDuplicates} with other labels)`],
  ] as const;
  out.push(
    `input: ${n(i.resultMessages)} result messages, ${n(i.items)} items, ${n(i.unique)} unique texts kept; left out: ${
      left.filter(([count]) => count > 0).map(([count, why]) => `${n(count)} ${why}`).join(", ") || "none"
    }`,
  );
  if (i.cache) out.push(cacheLine(i.cache, n));
  const d = report.dropped;
  const drops = [
    [d.reservedWords, "holding a word the student refuses"],
    [d.overRecordTokens, `over ${n(report.limits.maxRecordTokens)} tokens alone`],
    [d.overRecordLimit, `past the record limit (${n(d.recordsOverRecordLimit)} records)`],
    [d.overFileSize, "past the file size limit"],
  ] as const;
  out.push(
    `dropped from training and validation: ${drops.filter(([count]) => count > 0).map(([count, why]) => `${n(count)} texts ${why}`).join(", ") || "none"}${d.recordsSplit > 0 ? `; ${n(d.recordsSplit)} records cut in two to fit the token limit` : ""}`,
  );
  out.push("");
  out.push(`label balance over the ${n(train.texts)} training texts (thin: fewer than ${report.minExamples} examples)`);
  out.push(
    table(
      ["dimension", "kind", "shares", "thin"],
      report.balance.map((b) => [
        b.key,
        b.kind,
        b.values.map((v) => `${v.value} ${(v.share * 100).toFixed(1)}%`).join(", "),
        b.thin.length > 0 ? b.thin.join(", ") : "",
      ]),
    ),
  );
  out.push(report.thinDimensions.length > 0 ? `too thin to learn: ${report.thinDimensions.join(", ")}` : "every answer of every dimension has enough examples");
  for (const w of report.warnings) out.push(`warning: ${w}`);
  return out.join("\n");
}

/** What the label cache held for the --texts texts, for the teacher the keys were computed for. */
function cacheLine(c: NonNullable<ExportReport["input"]["cache"]>, n: (x: number) => string): string {
  const also = c.inResultsToo > 0 ? ` (${n(c.inResultsToo)} also in the results, whose labels are kept)` : "";
  const other = [
    [c.invalidLabels, "with labels that do not fit the taxonomy"],
    [sum(c.otherModel), `by another model (${entries(c.otherModel)})`],
  ] as const;
  const rest = other.filter(([count]) => count > 0).map(([count, why]) => `, ${n(count)} ${why}`).join("");
  return `label cache (teacher ${c.teacher}, ${c.modelId}): ${n(c.texts)} texts looked up, ${n(c.found)} found${also}, ${n(c.stale)} stale (an older definition of some dimension), ${n(c.missing)} missing${rest}`;
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((s, x) => s + x, 0);
}

function entries(counts: Record<string, number>): string {
  return Object.entries(counts).map(([k, v]) => `${k}: ${v}`).join(", ");
}
