import type { LabelItem, LabelValue } from "./classifier.ts";
import type { OutputKey } from "./prompt-format.ts";

/*
 * The lines answer format as labelq's prompt asks for it (src/core/prompts/render-lines.ts): one line
 * per text, `<number> <field> <field> ...`, fields in the order the output format section gives,
 * codes as defined, `+` between the labels of a multi-choice field, `-` for null or none, `y`/`n`
 * for booleans. The emulator reads the fields from the definitions: a heading `## <code>: <title>`
 * and, after the definition, its value line.
 */

// No nested quantifier over optional spaces: a line that does not end after the codes must not backtrack exponentially.
const ORDER = /in this order, separated by single spaces: i ([a-z][a-z0-9]*(?: [a-z][a-z0-9]*)*)/;
const HEADING = /^## ([a-z][a-z0-9]*): (.+)$/;
const LABEL_LINE = /^- ([a-z][a-z0-9]*) \(/;

/** The fields of a lines-format prompt in answer order, or undefined when the prompt does not ask for lines. */
export function parseLinesFormat(systemText: string): OutputKey[] | undefined {
  const order = ORDER.exec(systemText)?.[1]?.trim().split(" ");
  if (order === undefined || !/one line per text/.test(systemText)) return undefined;
  const lines = systemText.split(/\r?\n/);
  return order.map((code) => readField(code, lines));
}

function readField(code: string, lines: string[]): OutputKey {
  const at = lines.findIndex((l) => HEADING.exec(l)?.[1] === code);
  const title = at < 0 ? code : (HEADING.exec(lines[at] ?? "")?.[2] ?? code);
  // The simulated classifier picks heuristics by name: the title, as a key would be written.
  const name = title.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_|_$/g, "");
  const block: string[] = [];
  for (const line of lines.slice(at + 1)) {
    if (at < 0 || /^#{1,2} /.test(line)) break;
    block.push(line);
  }
  const labels = () => {
    const start = block.findIndex((l) => l === "One of:" || /^\d+ to \d+ of:$/.test(l));
    const out: string[] = [];
    for (const l of block.slice(start + 1)) {
      const m = LABEL_LINE.exec(l);
      if (!m?.[1]) break;
      out.push(m[1]);
    }
    return out;
  };
  if (block.includes("One of:")) return { kind: "single", code, name, labels: labels() };
  const multi = block.map((l) => /^(\d+) to (\d+) of:$/.exec(l)).find((m) => m !== null);
  if (multi) return { kind: "multi", code, name, labels: labels(), min: Number(multi[1]), max: Number(multi[2]) };
  const scale = block.map((l) => /^(-?\d+) to (-?\d+)(, or - when unknown[^:]*)?:$/.exec(l)).find((m) => m !== null);
  if (scale) return { kind: "scale", code, name, min: Number(scale[1]), max: Number(scale[2]), nullable: scale[3] !== undefined };
  const boolean = block.find((l) => l.startsWith("y for yes, n for no"));
  if (boolean !== undefined) return { kind: "boolean", code, name, nullable: boolean.includes("- when unknown") };
  return { kind: "unknown", code, name };
}

/** One item as an answer line. Values the classifier (or a fault) wrote that are not valid stay as written. */
export function itemLine(item: LabelItem, keys: OutputKey[]): string {
  return [String(item.i), ...keys.filter((k) => k.code in item).map((k) => field(k, item[k.code] ?? null))].join(" ");
}

function field(key: OutputKey, value: LabelValue): string {
  if (value === null) return "-";
  if (Array.isArray(value)) return value.length === 0 ? "-" : value.join("+");
  if (key.kind === "boolean" && (value === 0 || value === 1)) return value === 1 ? "y" : "n";
  return String(value);
}

// Faults of the lines format: damage to the text after the lines were written.

/**
 * Drops one field (not the number) from one answer line: every later field shifts, so the line is
 * unreadable. Undefined when no line has two fields to spare (the fault cannot apply).
 */
export function dropAField(text: string, random: () => number): string | undefined {
  const lines = text.split("\n");
  const target = Math.floor(random() * lines.length);
  const fields = (lines[target] ?? "").split(" ");
  if (fields.length < 3) return undefined;
  fields.splice(1 + Math.floor(random() * (fields.length - 1)), 1);
  lines[target] = fields.join(" ");
  return lines.join("\n");
}

/** Doubles some separators and adds tabs and trailing spaces: harmless to a tolerant reader. */
export function addExtraSeparators(text: string): string {
  return text
    .split("\n")
    .map((line, n) => (n % 2 === 0 ? `${line.replace(/ /g, "  ")}  ` : line.replace(/ /, "\t")))
    .join("\n");
}

/** Breaks one answer line in two mid-way, as a model that wrapped a long line would; undefined when the line is too short to break. */
export function breakALine(text: string, random: () => number): string | undefined {
  const lines = text.split("\n");
  const target = Math.floor(random() * lines.length);
  const fields = (lines[target] ?? "").split(" ");
  if (fields.length < 3) return undefined;
  const cut = 2 + Math.floor(random() * (fields.length - 2));
  lines.splice(target, 1, fields.slice(0, cut).join(" "), fields.slice(cut).join(" "));
  return lines.join("\n");
}
