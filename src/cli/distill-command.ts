import { type Command, Option } from "commander";
import { exportTrainingSet, TEXTS_OPT_IN_REQUIRED } from "../app/distill/export-training-set.ts";
import { formatExportReport } from "../app/distill/format-export-report.ts";
import { JOBS, type JobKind, STUDENTS, type StudentName, studentLimits } from "../app/distill/students.ts";
import { InvalidRequestError } from "../core/errors/errors.ts";
import { PromptRegistry } from "../core/prompts/prompt-registry.ts";
import { configFrom } from "./config-from-flags.ts";
import { integerArg, shareArg } from "./numeric-flags.ts";

interface ExportFlags {
  results: string[];
  texts: string[];
  includeTexts?: boolean;
  outDir: string;
  overwrite?: boolean;
  taxonomy?: string;
  prompt?: string;
  teacher?: string;
  student: StudentName;
  job: JobKind;
  textsPerRecord: number;
  validation: number;
  heldout: number;
  seed: number;
  maxRecords?: number;
  maxRecordTokens?: number;
  minExamples: number;
  json?: boolean;
}

// No default: a required repeatable flag that was never given stays undefined, so commander says it is missing.
const repeatable = (v: string, all: string[] | undefined) => [...(all ?? []), v];

/** Add `labelq distill`: build what a smaller student model is trained on from the teacher's labels. */
export function registerDistillCommand(program: Command): void {
  const distill = program.command("distill").description("Train a smaller student model on the teacher's labels; `export` builds the training set (see docs/distill.md).");
  distill
    .command("export")
    .description(
      "Build a training set in Bedrock's bedrock-conversation-2024 JSONL from results files and the request texts: one record per group of texts (system prompt, " +
        "the user turn labelq sends, the teacher's answer in the lines format), texts deduplicated, split train / validation / held out by a seed, within the " +
        "student's record limits; the held-out texts are written as a gold set for `labelq eval`. Texts are user data: nothing is written without --include-texts.",
    )
    .requiredOption("--results <file>", "results JSONL as `labelq collect` writes it (repeatable)", repeatable)
    .requiredOption("--texts <file>", "the texts those results are for: the producer's input .jsonl/.csv, or request messages JSONL (repeatable)", repeatable)
    .option("--include-texts", "confirm that the texts (user data) may be copied into training files; required")
    .requiredOption("--out-dir <dir>", "where train.jsonl, validation.jsonl, heldout.jsonl and report.json are written")
    .option("--overwrite", "replace the files of an earlier export in --out-dir")
    .option("--taxonomy <name>", "taxonomy (default LABELQ_DEFAULT_TAXONOMY)")
    .option("--prompt <version>", "prompt version or alias the records are rendered with; labels from other versions are left out (default LABELQ_DEFAULT_PROMPT_VERSION)")
    .option("--teacher <model>", "keep only texts this model labelled: a Bedrock model id as results carry it, or a catalogue alias")
    .addOption(new Option("--student <family>", "llama3: Llama 3.1 8B, 3.2 1B/3B; nova: Nova Micro, Lite").choices([...STUDENTS]).default("llama3"))
    .addOption(new Option("--job <kind>", "the customization job the records are for").choices([...JOBS]).default("fine-tuning"))
    .option("--texts-per-record <n>", "texts per record, as labelq sends a chunk of texts in one call", integerArg(1, 200), 20)
    .option("--validation <share>", "share of texts for the validation file", shareArg("[0, 1)"), 0.1)
    .option("--heldout <share>", "share of texts kept out of training and validation, written as a gold set", shareArg("[0, 1)"), 0.1)
    .option("--seed <n>", "seed of the split: the same seed always puts a text in the same split", integerArg(0, 2 ** 31 - 1), 1)
    .option("--max-records <n>", "training plus validation records at most (default: the student's limit)", integerArg(1, 10_000_000))
    .option("--max-record-tokens <n>", "input plus output tokens of a record at most (default: the student's limit)", integerArg(100, 10_000_000))
    .option("--min-examples <n>", "report a label value with fewer training examples as too thin to learn", integerArg(1, 1_000_000), 20)
    .option("--json", "print the report as JSON instead of the table")
    .action(async (o: ExportFlags) => {
      // Refused before any file or setting is read: nothing about the texts is touched without the opt-in.
      if (!o.includeTexts) throw new InvalidRequestError(TEXTS_OPT_IN_REQUIRED);
      const config = configFrom({});
      const prompt = await new PromptRegistry(config.prompts.dir).resolve(o.taxonomy ?? config.prompts.defaultTaxonomy, o.prompt ?? config.prompts.defaultVersion);
      const report = await exportTrainingSet({
        resultsFiles: o.results,
        textFiles: o.texts,
        includeTexts: o.includeTexts ?? false,
        prompt,
        teacher: o.teacher,
        limits: studentLimits(o.student, o.job, { maxRecords: o.maxRecords, maxRecordTokens: o.maxRecordTokens }),
        textsPerRecord: o.textsPerRecord,
        shares: { validation: o.validation, heldout: o.heldout, seed: o.seed },
        minExamples: o.minExamples,
        outDir: o.outDir,
        overwrite: o.overwrite ?? false,
      });
      process.stdout.write(o.json ? JSON.stringify(report, null, 2) + "\n" : formatExportReport(report) + "\n");
    });
}
