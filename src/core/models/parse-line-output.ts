import { LINES } from "../prompts/output-format.ts";
import type { Dimension } from "../taxonomy/taxonomy-schema.ts";
import { cutOffReason, type ParsedOutput } from "./parse-model-output.ts";

/** Line breaks, Unicode's line and paragraph separators included. */
const LINE_BREAK = /\r?\n|\u2028|\u2029/;

/**
 * An answer line: the text number, then the fields. The number may carry the marks models add
 * to numbered lists and tables (`1.`, `1:`, `1)`, `**1**`, `- 1`, `| 1 |`). Anything else, a
 * line that starts with a word, is prose, a heading or a fence.
 */
const ANSWER_LINE = /^(?:[-*>|]\s*)?(?:\*\*)?(\d{1,5})(?:\*\*)?[.:)]?[\s|]+(\S.*)$/;

/** Between fields: blanks of any kind (no-break spaces and tabs included), or table pipes. */
const FIELD_SEPARATOR = /[\s|]+/;

/**
 * Read a lines-format answer (`<number> <field> <field> ...`, one field per dimension in
 * taxonomy order) into per-text objects keyed by dimension code, the shape the label codec
 * validates. Tolerant of what does not change the meaning: prose, blank lines and code fences
 * around the lines, list or table marks around the number, runs of blanks or pipes between
 * fields. Strict about what does: codes are read as written (the codec rejects a wrong one),
 * and a line with more or fewer fields than dimensions is not guessed at but rejected for its
 * text, since one missing field shifts every field after it.
 * When the model was cut off, its last line may be cut short yet still read as valid, so a
 * last line with nothing after it is dropped and re-asked rather than trusted.
 */
export function parseLineOutput(text: string, stopReason: string, dimensions: readonly Dimension[]): ParsedOutput {
  const lines = text.split(LINE_BREAK);
  const answers = lines.flatMap((raw, index) => {
    const m = ANSWER_LINE.exec(raw.trim());
    if (m?.[1] === undefined || m[2] === undefined) return [];
    const fields = m[2].replace(/[\s|]+$/, "").split(FIELD_SEPARATOR);
    return [{ i: Number(m[1]), fields, index }];
  });
  const cutOff = cutOffReason(stopReason);
  if (cutOff !== undefined && answers.at(-1)?.index === lines.length - 1) answers.pop();
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

/** One field in the compact shape (codes, numbers, 1/0, null); a value it cannot read is passed on as written, for the codec to reject. */
function readField(d: Dimension, field: string): unknown {
  if (field === LINES.none) return d.kind === "multi" ? [] : null;
  switch (d.kind) {
    case "single":
      return field;
    case "multi":
      // "pri++del" or a bare "+" keep their empty codes, which the codec refuses.
      return field.split(LINES.join);
    case "scale":
      return /^-?\d+$/.test(field) ? Number(field) : field;
    case "boolean":
      return field === LINES.yes || field === "1" ? 1 : field === LINES.no || field === "0" ? 0 : field;
  }
}
