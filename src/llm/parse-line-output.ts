import { LINES } from "../prompts/output-format.ts";
import type { Dimension } from "../taxonomy/taxonomy-schema.ts";
import { cutOffReason, type ParsedOutput } from "./parse-model-output.ts";

/** An answer line: a text number, whitespace, then the fields. Anything else is prose, a fence or a blank line. */
const ANSWER_LINE = /^(\d{1,5})[ \t]+(\S.*)$/;

/**
 * Read a lines-format answer (`<number> <field> <field> ...`, one field per dimension in
 * taxonomy order) into per-text objects keyed by dimension code, the shape the label codec
 * validates. Tolerant of what does not change the meaning: prose, blank lines and code fences
 * around the lines, runs of spaces or tabs between fields, upper-case codes. Strict about what
 * does: a line with more or fewer fields than dimensions is not guessed at but rejected for its
 * text (re-asked), since one missing field shifts every field after it.
 * When the model was cut off, the last line may be cut short yet still read as valid, so it is
 * dropped and re-asked rather than trusted.
 */
export function parseLineOutput(text: string, stopReason: string, dimensions: readonly Dimension[]): ParsedOutput {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const answers = lines.flatMap((line) => {
    const m = ANSWER_LINE.exec(line);
    return m?.[1] !== undefined && m[2] !== undefined ? [{ i: Number(m[1]), fields: m[2].split(/[ \t]+/) }] : [];
  });
  const cutOff = cutOffReason(stopReason);
  if (cutOff !== undefined) answers.pop();
  const items: Record<string, unknown>[] = [];
  const rejected: { i: number; problem: string }[] = [];
  for (const { i, fields } of answers) {
    if (fields.length !== dimensions.length) {
      rejected.push({ i, problem: `the line has ${fields.length} fields, ${dimensions.length} expected (one per dimension, in order)` });
      continue;
    }
    const item: Record<string, unknown> = { i };
    dimensions.forEach((d, k) => (item[d.code] = readField(d, fields[k] ?? "")));
    items.push(item);
  }
  const problem =
    cutOff ?? (answers.length > 0 ? undefined : text.trim() === "" ? "the answer is empty" : "no answer lines (`<number> <fields>`) in the answer");
  return { items, ...(rejected.length > 0 ? { rejected } : {}), ...(problem !== undefined ? { problem } : {}) };
}

/** One field in the compact shape (codes, numbers, 1/0, null); a value it cannot read is passed on for the codec to reject. */
function readField(d: Dimension, raw: string): unknown {
  const field = raw.toLowerCase();
  if (field === LINES.none) return d.kind === "multi" ? [] : null;
  switch (d.kind) {
    case "single":
      return field;
    case "multi":
      return field.split(LINES.join).filter((c) => c !== "");
    case "scale":
      return /^-?\d+$/.test(field) ? Number(field) : raw;
    case "boolean":
      return field === LINES.yes || field === "1" ? 1 : field === LINES.no || field === "0" ? 0 : raw;
  }
}
