import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { InvalidRequestError } from "../../core/errors/errors.ts";
import { forFormat, type ResolvedPrompt } from "../../core/prompts/prompt-registry.ts";
import type { GoldItem } from "../eval/gold-set.ts";
import { type CacheCounts, cachedTeacherExamples, mergeCachedExamples } from "./cached-teacher-labels.ts";
import { type DimensionBalance, labelBalance } from "./label-balance.ts";
import { type SplitShares, splitExamples } from "./split-examples.ts";
import { type JobKind, reservedWordsIn, type StudentLimits, type StudentName } from "./students.ts";
import type { TeacherCache } from "./teacher-cache.ts";
import { readRequestTexts, readResultMessages, type TeacherCounts, type TeacherExample, teacherExamples } from "./teacher-labels.ts";
import { type ConversationRecord, fitRecords } from "./training-record.ts";

/** What `labelq distill export` is asked to do. */
export interface ExportOptions {
  /** Result messages (JSONL) as `labelq collect` writes them: the teacher's labels. May be empty with `teacherCache`. */
  resultsFiles: readonly string[];
  /** Also take the teacher's labels from the label cache for the texts of `textFiles`; results win for a text both have. */
  teacherCache?: TeacherCache;
  /** The producer's input files or request messages: the texts, which results do not carry. */
  textFiles: readonly string[];
  /** The opt-in to copy texts (user data) into the training files. */
  includeTexts: boolean;
  /** The taxonomy and prompt version the records are rendered with (answers in the lines format). */
  prompt: ResolvedPrompt;
  /** Keep only texts this model labelled (a Bedrock model id or a catalogue alias). */
  teacher?: string;
  limits: StudentLimits;
  /** Texts per record, as labelq sends a chunk of texts in one call. */
  textsPerRecord: number;
  shares: SplitShares;
  /** A label value with fewer training examples than this is reported as too thin to learn. */
  minExamples: number;
  outDir: string;
  /** Replace files an earlier export left in outDir. */
  overwrite: boolean;
  now?: () => Date;
}

/** One split's share of the export. */
export interface SplitReport {
  texts: number;
  records: number;
  tokens: number;
  bytes: number;
  /** The file written, or null when the split is empty. */
  file: string | null;
}

/** Everything `labelq distill export` reports (report.json, and the table on the terminal). */
export interface ExportReport {
  createdAt: string;
  taxonomy: string;
  promptVersion: string;
  student: StudentName;
  job: JobKind;
  models: string;
  limits: Omit<StudentLimits, "student" | "job" | "models" | "tokenizer">;
  seed: number;
  shares: { validation: number; heldout: number };
  textsPerRecord: number;
  minExamples: number;
  /** `cache` is null when the label cache was not read (no --from-cache). */
  input: TeacherCounts & { resultsFiles: string[]; textFiles: string[]; cache: CacheCounts | null };
  splits: { train: SplitReport; validation: SplitReport; heldout: { texts: number; file: string | null } };
  /** Texts left out of training and validation, by reason; records cut in two to fit the token limit. */
  dropped: { reservedWords: number; overRecordTokens: number; overRecordLimit: number; overFileSize: number; recordsSplit: number; recordsOverRecordLimit: number };
  tokens: { total: number; maxPerRecord: number; meanPerRecord: number };
  /** Label balance over the exported training texts. */
  balance: DimensionBalance[];
  /** Dimensions with at least one answer too thin to learn. */
  thinDimensions: string[];
  warnings: string[];
}

/** The file names an export writes in its directory. */
export const EXPORT_FILES = { train: "train.jsonl", validation: "validation.jsonl", heldout: "heldout.jsonl", report: "report.json" } as const;

/** Why texts need an explicit opt-in: said whenever it is missing. */
export const TEXTS_OPT_IN_REQUIRED =
  "distill export writes the texts themselves into the training files: a training record is a text and the teacher's labels for it, so there is no record without the text. " +
  "Texts are your users' data; exporting them copies them out of labelq into files you will upload for a training job. " +
  "Check that this data may be used to train a model, then pass --include-texts.";

/**
 * Build a training set for a student model from the teacher's labels: join results with the
 * request texts (and, with `teacherCache`, read the label cache for those texts), keep one
 * example per normalised text, split train / validation / held out
 * deterministically, render records in `bedrock-conversation-2024` within the student's limits,
 * and write the files and a report. The held-out texts are written as a gold set, so
 * `labelq eval --gold heldout.jsonl` scores a model against the teacher on texts it never saw.
 */
export async function exportTrainingSet(options: ExportOptions): Promise<ExportReport> {
  if (!options.includeTexts) throw new InvalidRequestError(TEXTS_OPT_IN_REQUIRED);
  const { limits, shares } = options;
  if (shares.validation + shares.heldout >= 1) {
    throw new InvalidRequestError(`--validation ${shares.validation} and --heldout ${shares.heldout} leave nothing to train on: together they must be below 1`);
  }
  // The answers are in the lines format: the system prompt is the one labelq sends a lines-format model.
  const prompt = forFormat(options.prompt, "lines");
  const reservedInPrompt = reservedWordsIn(prompt.system, limits.reservedWords);
  if (reservedInPrompt.length > 0) {
    throw new InvalidRequestError(
      `the ${prompt.taxonomy.name} prompt ${prompt.version} holds ${reservedInPrompt.map((w) => `"${w}"`).join(", ")}, which ${limits.student} training refuses anywhere in a prompt: every record would fail; reword the template or taxonomy`,
    );
  }
  const targets = Object.fromEntries(Object.entries(EXPORT_FILES).map(([k, f]) => [k, path.join(options.outDir, f)])) as Record<keyof typeof EXPORT_FILES, string>;
  if (!options.overwrite) {
    const existing = (await Promise.all(Object.values(targets).map(async (f) => ((await exists(f)) ? f : undefined)))).filter((f) => f !== undefined);
    if (existing.length > 0) throw new InvalidRequestError(`${existing.join(", ")} already there: choose another --out-dir, or pass --overwrite`);
  }

  const texts = await readRequestTexts(options.textFiles);
  const results = await readResultMessages(options.resultsFiles);
  const fromResults = teacherExamples(results, texts, { taxonomy: prompt.taxonomy, promptVersion: prompt.version, teacher: options.teacher });
  const { counts } = fromResults;
  let examples = fromResults.examples;
  let cacheCounts: CacheCounts | null = null;
  if (options.teacherCache) {
    const cached = await cachedTeacherExamples(texts.all, options.teacherCache);
    cacheCounts = cached.counts;
    examples = mergeCachedExamples(examples, cached.examples, counts, cacheCounts);
  }
  const split = splitExamples(examples, shares);

  // A reserved word in a text fails the job: such texts are left out of training and validation.
  const dropped = { reservedWords: 0, overRecordTokens: 0, overRecordLimit: 0, overFileSize: 0, recordsSplit: 0, recordsOverRecordLimit: 0 };
  const usable = (xs: TeacherExample[]) =>
    xs.filter((x) => {
      const bad = reservedWordsIn(x.text, limits.reservedWords).length > 0;
      if (bad) dropped.reservedWords += 1;
      return !bad;
    });
  const build = (xs: TeacherExample[]) => {
    const records: { record: ConversationRecord; texts: TeacherExample[]; tokens: number }[] = [];
    for (let k = 0; k < xs.length; k += options.textsPerRecord) {
      const fitted = fitRecords(prompt.system, prompt.taxonomy, xs.slice(k, k + options.textsPerRecord), limits.tokenizer, limits.maxRecordTokens);
      dropped.recordsSplit += fitted.splits;
      dropped.overRecordTokens += fitted.dropped.length;
      records.push(...fitted.records);
    }
    return records;
  };
  let train = build(usable(split.train));
  let validation = build(usable(split.validation));

  // At most maxRecords training and validation records together: cut both in proportion (each is
  // in seeded order, so the cut keeps a random subset).
  const total = train.length + validation.length;
  if (total > limits.maxRecords) {
    const keepValidation = Math.min(validation.length, Math.floor((limits.maxRecords * validation.length) / total));
    const keepTrain = limits.maxRecords - keepValidation;
    for (const cut of [...train.slice(keepTrain), ...validation.slice(keepValidation)]) dropped.overRecordLimit += cut.texts.length;
    dropped.recordsOverRecordLimit = total - limits.maxRecords;
    train = train.slice(0, keepTrain);
    validation = validation.slice(0, keepValidation);
  }

  const trainLines = withinBytes(train, limits.maxTrainingFileBytes, dropped);
  const validationLines = withinBytes(validation, limits.maxValidationFileBytes, dropped);
  const heldout = goldItems(split.heldout);

  await fs.mkdir(options.outDir, { recursive: true });
  // The files hold user texts: readable by their owner only. An empty split writes no file (and
  // removes one an earlier export left), so no job is given an empty dataset.
  const write = async (file: string, lines: readonly string[]) => {
    if (lines.length === 0) await fs.rm(file, { force: true });
    else await fs.writeFile(file, lines.map((l) => `${l}\n`).join(""), { mode: 0o600 });
  };
  await write(targets.train, trainLines.lines);
  await write(targets.validation, validationLines.lines);
  await write(targets.heldout, heldout.map((g) => JSON.stringify(g)));

  const exportedTrain = trainLines.kept;
  const exportedValidation = validationLines.kept;
  const trainTexts = exportedTrain.flatMap((r) => r.texts);
  const allRecords = [...exportedTrain, ...exportedValidation];
  const tokenTotal = allRecords.reduce((n, r) => n + r.tokens, 0);
  const balance = labelBalance(prompt.taxonomy, trainTexts.map((t) => t.labels), options.minExamples);
  const { student, job, models, tokenizer: _tokenizer, ...limitFigures } = limits;
  const report: ExportReport = {
    createdAt: (options.now?.() ?? new Date()).toISOString(),
    taxonomy: prompt.taxonomy.name,
    promptVersion: prompt.version,
    student,
    job,
    models,
    limits: limitFigures,
    seed: shares.seed,
    shares: { validation: shares.validation, heldout: shares.heldout },
    textsPerRecord: options.textsPerRecord,
    minExamples: options.minExamples,
    input: { ...counts, resultsFiles: [...options.resultsFiles], textFiles: [...options.textFiles], cache: cacheCounts },
    splits: {
      train: splitReport(exportedTrain, trainLines.bytes, trainLines.lines.length > 0 ? targets.train : null),
      validation: splitReport(exportedValidation, validationLines.bytes, validationLines.lines.length > 0 ? targets.validation : null),
      heldout: { texts: heldout.length, file: heldout.length > 0 ? targets.heldout : null },
    },
    dropped,
    tokens: { total: tokenTotal, maxPerRecord: Math.max(0, ...allRecords.map((r) => r.tokens)), meanPerRecord: allRecords.length === 0 ? 0 : tokenTotal / allRecords.length },
    balance,
    thinDimensions: balance.filter((b) => b.thin.length > 0).map((b) => b.key),
    warnings: warnings(counts, cacheCounts, exportedTrain.length, exportedValidation.length, limits, prompt.version),
  };
  await fs.writeFile(targets.report, JSON.stringify(report, null, 2) + "\n", { mode: 0o600 });
  return report;
}

function splitReport(records: readonly { texts: readonly unknown[]; tokens: number }[], bytes: number, file: string | null): SplitReport {
  return { texts: records.reduce((n, r) => n + r.texts.length, 0), records: records.length, tokens: records.reduce((n, r) => n + r.tokens, 0), bytes, file };
}

/** The records' JSONL lines within the file size limit; the texts of records that do not fit are counted as dropped. */
function withinBytes<R extends { record: ConversationRecord; texts: readonly unknown[] }>(records: readonly R[], maxBytes: number, dropped: { overFileSize: number }): { lines: string[]; kept: R[]; bytes: number } {
  const lines: string[] = [];
  const kept: R[] = [];
  let bytes = 0;
  for (const r of records) {
    const line = JSON.stringify(r.record);
    const size = Buffer.byteLength(line) + 1;
    if (bytes + size > maxBytes) {
      dropped.overFileSize += r.texts.length;
      continue;
    }
    lines.push(line);
    kept.push(r);
    bytes += size;
  }
  return { lines, kept, bytes };
}

const GOLD_ID = /^[A-Za-z0-9._:@/-]{1,128}$/;

/**
 * The held-out texts as a gold set (`labelq eval --gold`): the teacher's labels stand as the
 * expected answers, so eval scores a model against the teacher. Ids are `<batchId>/<itemId>`
 * where that fits a gold id, else derived from the text.
 */
function goldItems(examples: readonly TeacherExample[]): Omit<GoldItem, "tags">[] {
  const used = new Set<string>();
  return examples.map((x) => {
    const origin = x.source.batchId === "" ? x.source.itemId : `${x.source.batchId}/${x.source.itemId}`;
    const id = GOLD_ID.test(origin) && !used.has(origin) ? origin : `text-${createHash("sha256").update(x.normalized).digest("hex").slice(0, 16)}`;
    used.add(id);
    return { id, text: x.text, labels: x.labels, notes: `teacher ${x.source.model}, prompt ${x.source.promptVersion}, ${x.source.from === "label-cache" ? `label cache, ${x.source.file}` : `batch ${x.source.batchId}`} item ${x.source.itemId}` };
  });
}

function warnings(counts: TeacherCounts, cache: CacheCounts | null, trainRecords: number, validationRecords: number, limits: StudentLimits, version: string): string[] {
  const out: string[] = [];
  const records = trainRecords + validationRecords;
  if (trainRecords === 0) out.push("no training records: nothing to train on (see what the input counts left out)");
  else if (records < limits.minRecords) out.push(`${records} training and validation records: ${limits.student} ${limits.job} needs at least ${limits.minRecords}`);
  if (validationRecords === 0) out.push("no validation records: the job trains without a validation loss (raise --validation, or export more texts)");
  const otherVersions = Object.entries(counts.otherPromptVersion);
  if (otherVersions.length > 0) {
    out.push(`${otherVersions.map(([v, n]) => `${n} labelled under prompt ${v}`).join(", ")} left out: records use prompt ${version} (choose another with --prompt)`);
  }
  if (counts.withoutText > 0) out.push(`${counts.withoutText} labelled items have no text in the --texts files (give the input files or request messages they were sent from)`);
  if (cache && cache.stale > 0) {
    out.push(`${cache.stale} texts cached under an older definition of some dimension left out: label them again with ${cache.teacher} under prompt ${version} to include them`);
  }
  if (counts.conflictingDuplicates > 0) out.push(`${counts.conflictingDuplicates} repeated texts had other labels than the first seen; the first is kept`);
  return out;
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
