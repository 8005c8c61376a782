import fs from "node:fs/promises";
import { z } from "zod";
import { normalizeText } from "../../core/cache/cache-key.ts";
import { type LabelResult, type LabelValue, resultSchema } from "../../core/contracts/result.ts";
import { InvalidRequestError } from "../../core/errors/errors.ts";
import { findModel } from "../../core/models/model-registry.ts";
import type { Taxonomy } from "../../core/taxonomy/taxonomy-schema.ts";
import { sameLabel } from "../eval/dimension-scores.ts";
import { labelProblem } from "../eval/gold-set.ts";
import { readTexts } from "../producer/read-texts.ts";

/** A text the teacher labelled, once per normalised text, with where its labels came from. */
export interface TeacherExample {
  /** The text as labelq sent it. */
  text: string;
  /** normalizeText(text): the key texts are told apart by, as the label cache keys them. */
  normalized: string;
  /** Dimension key -> label (full names, as results carry them), one for every dimension of the taxonomy. */
  labels: Record<string, LabelValue>;
  /**
   * `file` is the results file, or for labels read from the label cache the --texts file (`from`
   * "label-cache"); `batchId` is empty for a text of a producer input file, which names no batch.
   */
  source: { file: string; batchId: string; itemId: string; model: string; promptVersion: string; from: "model" | "cache" | "label-cache" };
}

/** What happened to each result item read. */
export interface TeacherCounts {
  resultMessages: number;
  items: number;
  /** Items with an error instead of labels. */
  withoutLabels: number;
  otherTaxonomy: number;
  /** Labelled under another prompt version than the one exported, by version. */
  otherPromptVersion: Record<string, number>;
  /** Labelled by another model than --teacher, by model. */
  otherTeacher: Record<string, number>;
  /**
   * Without --teacher: answered by a student that LABELQ_MODEL_ROUTES routed to (a deployed custom
   * model's ARN, or a cascade's `<student id>+<teacher id>`), by model. A student's answers are not a
   * teacher's labels: training on them would teach the student its own mistakes.
   */
  routedToStudent: Record<string, number>;
  /** No request text for the item's batch and id in the text files. */
  withoutText: number;
  /** The item's id names different texts in the input files, and no request message says which. */
  ambiguousText: number;
  /** Labels that are not a full, valid answer under the exported taxonomy. */
  invalidLabels: number;
  /** Kept: one per normalised text (with --from-cache, the texts taken from the label cache as well). */
  unique: number;
  /** Items whose normalised text was already kept, and of those, how many had other labels. */
  duplicates: number;
  conflictingDuplicates: number;
  /** Kept texts by the model that labelled them (label cache entries included). */
  teachers: Record<string, number>;
}

/** Where request texts are looked up: by batch and item id (request messages) and by item id (producer input files). */
export interface RequestTexts {
  byBatchItem: Map<string, string>;
  byId: Map<string, string>;
  /** Ids that name different texts in the input files. */
  ambiguousIds: Set<string>;
  /** Every text read, in file and line order: what the label cache is asked about (it is keyed by text, not id). */
  all: RequestText[];
}

/** One text of the --texts files and where it was read. */
export interface RequestText {
  text: string;
  file: string;
  /** The batch of a request message; absent for producer input files. */
  batchId?: string;
  itemId: string;
}

const requestLine = z.object({ batchId: z.string().min(1), items: z.array(z.object({ id: z.string().min(1), text: z.string() })).min(1) });

/**
 * The texts labelq was asked to label, from the files the producer sent them from: `.jsonl` or
 * `.csv` input files as `labelq enqueue` reads them (ids as enqueue gives them, `<file>-<n>` where
 * a record has none), or request messages, one per line, which also name each text's batch.
 */
export async function readRequestTexts(files: readonly string[]): Promise<RequestTexts> {
  const out: RequestTexts = { byBatchItem: new Map(), byId: new Map(), ambiguousIds: new Set(), all: [] };
  for (const file of files) {
    const raw = await readFile(file, "--texts");
    const first = raw.split(/\r?\n/).find((l) => l.trim() !== "");
    if (first !== undefined && isRequestMessage(first)) {
      raw.split(/\r?\n/).forEach((line, n) => {
        if (line.trim() === "") return;
        const parsed = requestLine.safeParse(parseJson(line));
        if (!parsed.success) throw new InvalidRequestError(`--texts ${file}:${n + 1}: not a request message (the file's first line is one, so every line must be)`);
        for (const item of parsed.data.items) {
          out.byBatchItem.set(batchItemKey(parsed.data.batchId, item.id), item.text);
          out.all.push({ text: item.text, file, batchId: parsed.data.batchId, itemId: item.id });
        }
      });
      continue;
    }
    for (const { id, text } of await readTexts(file)) {
      const known = out.byId.get(id);
      if (known !== undefined && known !== text) out.ambiguousIds.add(id);
      out.byId.set(id, text);
      out.all.push({ text, file, itemId: id });
    }
  }
  return out;
}

/** Result messages from JSONL files as `labelq collect` and `labelq eval --out` write them; every unreadable line is named at once. */
export async function readResultMessages(files: readonly string[]): Promise<{ file: string; result: LabelResult }[]> {
  const out: { file: string; result: LabelResult }[] = [];
  const problems: string[] = [];
  for (const file of files) {
    const raw = await readFile(file, "--results");
    raw.split(/\r?\n/).forEach((line, n) => {
      if (line.trim() === "") return;
      const parsed = resultSchema.safeParse(parseJson(line));
      if (parsed.success) out.push({ file, result: parsed.data });
      else problems.push(`${file}:${n + 1}: not a labelq result message (${parsed.error.issues[0]?.path.join(".") || "the line"}: ${parsed.error.issues[0]?.message ?? "not JSON"})`);
    });
  }
  if (problems.length > 0) throw new InvalidRequestError(`--results: ${problems.slice(0, 5).join("; ")}${problems.length > 5 ? `; and ${problems.length - 5} more` : ""}`, problems);
  return out;
}

/** What to keep from the results. */
export interface TeacherFilter {
  taxonomy: Taxonomy;
  /** The prompt version the training records are rendered with: labels from another version are not mixed in. */
  promptVersion: string;
  /** Keep only texts this model labelled: a Bedrock model id as results carry it, or a catalogue alias. */
  teacher?: string;
}

/**
 * The teacher's labels for the texts it labelled, one per normalised text (the first met, files
 * and lines in the order given), joined with the request texts: results carry ids and labels,
 * never texts. Labels must be a full, valid answer under the taxonomy, from the prompt version
 * exported, and from the teacher model when one is named; when none is, from any model but a
 * routed student (isRoutedToStudent).
 */
export function teacherExamples(results: readonly { file: string; result: LabelResult }[], texts: RequestTexts, filter: TeacherFilter): { examples: TeacherExample[]; counts: TeacherCounts } {
  const counts: TeacherCounts = {
    resultMessages: results.length,
    items: 0,
    withoutLabels: 0,
    otherTaxonomy: 0,
    otherPromptVersion: {},
    otherTeacher: {},
    routedToStudent: {},
    withoutText: 0,
    ambiguousText: 0,
    invalidLabels: 0,
    unique: 0,
    duplicates: 0,
    conflictingDuplicates: 0,
    teachers: {},
  };
  const { taxonomy } = filter;
  const teacherId = filter.teacher === undefined ? undefined : baseModelId(findModel(filter.teacher)?.modelId ?? filter.teacher);
  const kept = new Map<string, TeacherExample>();
  for (const { file, result } of results) {
    for (const item of result.items) {
      counts.items += 1;
      if (item.labels === null || item.error !== null) {
        counts.withoutLabels += 1;
        continue;
      }
      if (result.taxonomy !== taxonomy.name) {
        counts.otherTaxonomy += 1;
        continue;
      }
      const version = item.promptVersion ?? result.promptVersion;
      if (version !== filter.promptVersion) {
        counts.otherPromptVersion[version] = (counts.otherPromptVersion[version] ?? 0) + 1;
        continue;
      }
      const model = item.model ?? result.model;
      if (teacherId !== undefined && baseModelId(model) !== teacherId) {
        counts.otherTeacher[model] = (counts.otherTeacher[model] ?? 0) + 1;
        continue;
      }
      if (teacherId === undefined && isRoutedToStudent(model)) {
        counts.routedToStudent[model] = (counts.routedToStudent[model] ?? 0) + 1;
        continue;
      }
      const text = texts.byBatchItem.get(batchItemKey(result.batchId, item.id)) ?? (texts.ambiguousIds.has(item.id) ? null : texts.byId.get(item.id));
      if (text === null) {
        counts.ambiguousText += 1;
        continue;
      }
      if (text === undefined) {
        counts.withoutText += 1;
        continue;
      }
      const labels = item.labels;
      if (taxonomy.dimensions.some((d) => !(d.key in labels) || labelProblem(d, labels[d.key]) !== undefined)) {
        counts.invalidLabels += 1;
        continue;
      }
      const normalized = normalizeText(text);
      const earlier = kept.get(normalized);
      if (earlier) {
        counts.duplicates += 1;
        if (taxonomy.dimensions.some((d) => !sameLabel(earlier.labels[d.key]!, labels[d.key]!))) counts.conflictingDuplicates += 1;
        continue;
      }
      const ordered = Object.fromEntries(taxonomy.dimensions.map((d) => [d.key, labels[d.key]!]));
      kept.set(normalized, { text, normalized, labels: ordered, source: { file, batchId: result.batchId, itemId: item.id, model, promptVersion: version, from: item.source ?? "model" } });
      counts.teachers[model] = (counts.teachers[model] ?? 0) + 1;
    }
  }
  counts.unique = kept.size;
  return { examples: [...kept.values()], counts };
}

// A deployed custom model is called by its deployment's or provisioned model's ARN (its catalogue
// entry's modelId, written by distill deploy); a cascaded item reads <student id>+<teacher id>
// (result.ts, items[].model). No Bedrock model id or alias holds a "+". A teacher served by
// Provisioned Throughput has such an ARN too: --teacher naming it keeps its labels.
const STUDENT_ARN = /^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:[0-9]{12}:(custom-model-deployment|provisioned-model|custom-model)\//;

/** Whether a result item's model is a routed student: a deployed custom model, or a cascade of a student and its teacher. */
export function isRoutedToStudent(model: string): boolean {
  return model.includes("+") || STUDENT_ARN.test(model);
}

/** A model id without its cross-Region profile prefix, so `us.meta.llama3-3-70b...` and `meta.llama3-3-70b...` compare equal. */
function baseModelId(id: string): string {
  return id.replace(/^(us|eu|apac|global|us-gov|jp|au|ca)\./, "");
}

function batchItemKey(batchId: string, itemId: string): string {
  return `${batchId}\u0000${itemId}`;
}

function isRequestMessage(line: string): boolean {
  const value = parseJson(line);
  return typeof value === "object" && value !== null && "batchId" in value && "items" in value;
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

async function readFile(file: string, flag: string): Promise<string> {
  try {
    return await fs.readFile(file, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new InvalidRequestError(`${flag} ${file}: ${code === "ENOENT" ? "no such file" : (error as Error).message}`);
  }
}
