import fs from "node:fs/promises";
import path from "node:path";
import { TaxonomyError } from "../errors/errors.ts";
import { taxonomySchema, type Taxonomy } from "./taxonomy-schema.ts";

/** Read and validate `<promptsDir>/<name>/<file>` (taxonomy.json); errors name the file, the dimension and the problem. */
export async function loadTaxonomy(promptsDir: string, name: string, fileName = "taxonomy.json"): Promise<Taxonomy> {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) {
    throw new TaxonomyError("TAXONOMY_NOT_FOUND", `Unknown taxonomy "${name}": names are kebab-case`);
  }
  const file = path.join(promptsDir, name, fileName);
  let raw: string;
  try {
    raw = await fs.readFile(file, "utf8");
  } catch (cause) {
    // The message goes into DLQ attributes and results: no file paths of the worker (the cause has them).
    throw new TaxonomyError("TAXONOMY_NOT_FOUND", `Unknown taxonomy "${name}": its ${fileName} cannot be read`, { cause });
  }
  return parseTaxonomy(raw, file);
}

/** Validate taxonomy JSON text; `source` names the file in error messages. */
export function parseTaxonomy(raw: string, source: string): Taxonomy {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (cause) {
    throw new TaxonomyError("TAXONOMY_INVALID", `${source}: not valid JSON (${(cause as Error).message})`, { cause });
  }
  const parsed = taxonomySchema.safeParse(json);
  if (!parsed.success) {
    const dims = (json as { dimensions?: { key?: unknown }[] }).dimensions;
    const problems = parsed.error.issues.map((issue) => {
      const [top, index] = issue.path;
      const key = top === "dimensions" && typeof index === "number" ? dims?.[index]?.key : undefined;
      const where = typeof key === "string" ? `dimension "${key}" (${issue.path.slice(2).join(".") || "itself"})` : issue.path.join(".") || "file";
      return `${where}: ${issue.message}`;
    });
    throw new TaxonomyError("TAXONOMY_INVALID", `${source}: invalid taxonomy:\n  - ${problems.join("\n  - ")}`);
  }
  const problems = consistencyProblems(parsed.data);
  if (problems.length > 0) {
    throw new TaxonomyError("TAXONOMY_INVALID", `${source}: invalid taxonomy:\n  - ${problems.join("\n  - ")}`);
  }
  return parsed.data;
}

/** Rules a schema cannot express: unique keys and codes, sane ranges, examples that use real labels. */
function consistencyProblems(t: Taxonomy): string[] {
  const problems: string[] = [];
  const keys = new Set<string>();
  const codes = new Set<string>();
  for (const d of t.dimensions) {
    const at = `dimension "${d.key}"`;
    if (keys.has(d.key)) problems.push(`${at}: duplicate key`);
    if (codes.has(d.code)) problems.push(`${at}: code "${d.code}" is already used by another dimension`);
    if (d.code === "i") problems.push(`${at}: code "i" is reserved for the text number`);
    keys.add(d.key);
    codes.add(d.code);
    if (d.kind === "single" || d.kind === "multi") {
      const names = new Set<string>();
      const labelCodes = new Set<string>();
      for (const l of d.labels) {
        if (names.has(l.name)) problems.push(`${at}: duplicate label "${l.name}"`);
        if (labelCodes.has(l.code)) problems.push(`${at}: label code "${l.code}" is used twice`);
        names.add(l.name);
        labelCodes.add(l.code);
      }
      if (d.kind === "multi" && (d.maxItems < d.minItems || d.maxItems > d.labels.length)) {
        problems.push(`${at}: maxItems must be between minItems (${d.minItems}) and the number of labels (${d.labels.length})`);
      }
      for (const ex of d.examples) {
        const values = Array.isArray(ex.label) ? ex.label : [ex.label];
        for (const v of values) {
          if (typeof v !== "string" || !names.has(v)) problems.push(`${at}: example label ${JSON.stringify(v)} is not one of its labels`);
        }
      }
    } else if (d.kind === "scale") {
      if (d.min >= d.max) problems.push(`${at}: min (${d.min}) must be below max (${d.max})`);
      for (const a of d.anchors) {
        if (a.value < d.min || a.value > d.max) problems.push(`${at}: anchor ${a.value} is outside ${d.min}..${d.max}`);
      }
      for (const ex of d.examples) {
        const ok = (ex.label === null && d.nullable) || (typeof ex.label === "number" && ex.label >= d.min && ex.label <= d.max);
        if (!ok) problems.push(`${at}: example label ${JSON.stringify(ex.label)} is outside ${d.min}..${d.max}${d.nullable ? " or null" : ""}`);
      }
    } else {
      for (const ex of d.examples) {
        const ok = typeof ex.label === "boolean" || (ex.label === null && d.nullable);
        if (!ok) problems.push(`${at}: example label ${JSON.stringify(ex.label)} is not a boolean${d.nullable ? " or null" : ""}`);
      }
    }
  }
  return problems;
}
