import fs from "node:fs/promises";
import { z } from "zod";
import type { LabelValue } from "../../core/contracts/result.ts";
import { GoldSetError } from "../../core/errors/errors.ts";
import type { Dimension, Taxonomy } from "../../core/taxonomy/taxonomy-schema.ts";

/** One text of a gold set with the labels a careful annotator gave it, for some or all dimensions. */
export interface GoldItem {
  id: string;
  text: string;
  /** Dimension key -> expected label (full label names, as in results). Absent keys are not scored. */
  labels: Record<string, LabelValue>;
  /** Kinds of hard case this text is (sarcasm, mixed, spam, ...), for reading results by group. */
  tags: string[];
  notes?: string;
}

// Item ids follow the request contract, so gold texts can be sent as they are.
const lineSchema = z.strictObject({
  id: z.string().min(1).max(128).regex(/^[A-Za-z0-9._:@/-]+$/, "ids may contain only letters, digits and . _ : @ / -"),
  text: z.string().min(1, "text must not be empty"),
  labels: z.record(z.string(), z.unknown()),
  tags: z.array(z.string().min(1)).default([]),
  notes: z.string().optional(),
});

/** Read a JSONL gold set and validate it against the taxonomy; every problem is reported at once, by line. */
export async function loadGoldSet(file: string, taxonomy: Taxonomy, options: { maxTextChars?: number } = {}): Promise<GoldItem[]> {
  let raw: string;
  try {
    raw = await fs.readFile(file, "utf8");
  } catch (cause) {
    throw new GoldSetError(`Gold set ${file} cannot be read (${(cause as Error).message})`);
  }
  return parseGoldSet(raw, taxonomy, file, options);
}

/** Validate JSONL gold-set text against the taxonomy; `source` names the file in errors. */
export function parseGoldSet(raw: string, taxonomy: Taxonomy, source: string, options: { maxTextChars?: number } = {}): GoldItem[] {
  const dimensions = new Map(taxonomy.dimensions.map((d) => [d.key, d]));
  const issues: string[] = [];
  const items: GoldItem[] = [];
  const ids = new Map<string, number>();
  const texts = new Map<string, number>();
  raw.split(/\r?\n/).forEach((line, index) => {
    const at = `line ${index + 1}`;
    if (line.trim() === "") return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (cause) {
      issues.push(`${at}: not valid JSON (${(cause as Error).message})`);
      return;
    }
    const parsed = lineSchema.safeParse(json);
    if (!parsed.success) {
      for (const i of parsed.error.issues) {
        if (i.code === "unrecognized_keys") issues.push(`${at}: unknown field ${i.keys.map((k) => `"${k}"`).join(", ")} (a line has id, text, labels, tags, notes)`);
        else issues.push(`${at}: ${i.path.join(".")}: ${i.message}`);
      }
      return;
    }
    const { id, text, labels, tags, notes } = parsed.data;
    const where = `${at} (id "${id}")`;
    if (ids.has(id)) issues.push(`${where}: duplicate id, first used on line ${ids.get(id)}`);
    ids.set(id, index + 1);
    const sameText = texts.get(text.trim());
    if (sameText !== undefined) issues.push(`${where}: the same text as line ${sameText}; a repeated text would be counted twice`);
    texts.set(text.trim(), index + 1);
    if (options.maxTextChars !== undefined && text.length > options.maxTextChars) {
      issues.push(`${where}: text is ${text.length} characters, longer than the ${options.maxTextChars} a request allows`);
    }
    const checked: Record<string, LabelValue> = {};
    for (const [key, value] of Object.entries(labels)) {
      const dimension = dimensions.get(key);
      if (!dimension) {
        issues.push(`${where}: unknown dimension "${key}" (taxonomy "${taxonomy.name}" has: ${[...dimensions.keys()].join(", ")})`);
        continue;
      }
      const problem = labelProblem(dimension, value);
      if (problem) issues.push(`${where}: ${key}: ${problem}`);
      else checked[key] = value as LabelValue;
    }
    if (Object.keys(labels).length === 0) issues.push(`${where}: no labels: give at least one dimension`);
    items.push({ id, text, labels: checked, tags, ...(notes === undefined ? {} : { notes }) });
  });
  if (items.length === 0 && issues.length === 0) issues.push("no gold items: the file is empty");
  if (issues.length > 0) throw new GoldSetError(`${source}: invalid gold set for taxonomy "${taxonomy.name}"`, issues);
  return items;
}

/** Why a value is not a valid label of the dimension, or undefined when it is. */
export function labelProblem(d: Dimension, value: unknown): string | undefined {
  const shown = JSON.stringify(value);
  switch (d.kind) {
    case "single": {
      const names = d.labels.map((l) => l.name);
      if (typeof value === "string" && names.includes(value)) return undefined;
      return `${shown} is not one of its labels (${names.join(", ")})${codeHint(d, value)}`;
    }
    case "multi": {
      const names = d.labels.map((l) => l.name);
      if (!Array.isArray(value)) return `${shown} is not a list of labels (${names.join(", ")}); use [] for none`;
      const bad = value.filter((v) => typeof v !== "string" || !names.includes(v));
      if (bad.length > 0) return `${bad.map((b) => JSON.stringify(b)).join(", ")} not among its labels (${names.join(", ")})${codeHint(d, bad[0])}`;
      if (new Set(value).size !== value.length) return `${shown} repeats a label`;
      if (value.length < d.minItems || value.length > d.maxItems) return `${value.length} labels given; it takes ${d.minItems} to ${d.maxItems}`;
      return undefined;
    }
    case "scale":
      if (value === null && d.nullable) return undefined;
      if (typeof value === "number" && Number.isInteger(value) && value >= d.min && value <= d.max) return undefined;
      return `${shown} is not an integer from ${d.min} to ${d.max}${d.nullable ? " or null" : ""}`;
    case "boolean":
      if (typeof value === "boolean" || (value === null && d.nullable)) return undefined;
      return `${shown} is not true or false${d.nullable ? " or null" : ""}`;
  }
}

/** Gold files use label names; a code (what the model writes) is the commonest slip, so name the label it stands for. */
function codeHint(d: Extract<Dimension, { kind: "single" | "multi" }>, value: unknown): string {
  const label = d.labels.find((l) => l.code === value && l.name !== value);
  return label ? `; "${String(value)}" is the code of "${label.name}": gold sets use label names` : "";
}

/** How often each label (and null) is the gold answer, per dimension: the support a gold set gives each label. */
export function goldSupport(items: readonly GoldItem[], taxonomy: Taxonomy): Record<string, Record<string, number>> {
  return Object.fromEntries(
    taxonomy.dimensions.map((d) => {
      const counts: Record<string, number> = Object.fromEntries(possibleValues(d).map((v) => [v, 0]));
      for (const item of items) {
        if (!(d.key in item.labels)) continue;
        const value = item.labels[d.key]!;
        for (const v of Array.isArray(value) ? value : [value]) counts[String(v)] = (counts[String(v)] ?? 0) + 1;
      }
      return [d.key, counts];
    }),
  );
}

/** Every answer a dimension allows, as text: label names, scale points (and "null"), "true"/"false". */
export function possibleValues(d: Dimension): string[] {
  switch (d.kind) {
    case "single":
    case "multi":
      return d.labels.map((l) => l.name);
    case "scale":
      return [...Array.from({ length: d.max - d.min + 1 }, (_, k) => String(d.min + k)), ...(d.nullable ? ["null"] : [])];
    case "boolean":
      return ["true", "false", ...(d.nullable ? ["null"] : [])];
  }
}
