import { type Command, InvalidArgumentError, Option } from "commander";
import { createAwsClients } from "../adapters/aws-clients.ts";
import { DynamoLabelCache } from "../adapters/dynamodb/dynamo-label-cache.ts";
import { BedrockCustomizationControl, bedrockDistillControl } from "../adapters/bedrock/customization-control.ts";
import { cancelCustomization, customizationStatus, formatCustomizationStatus, startCustomization } from "../app/distill/customization-job.ts";
import { STUDENT_MODELS, TEACHER_MODELS } from "../app/distill/customization-targets.ts";
import { type DeployResult, deployStudent, undeployStudent } from "../app/distill/deploy-student.ts";
import { exportTrainingSet, TEXTS_OPT_IN_REQUIRED } from "../app/distill/export-training-set.ts";
import { formatExportReport } from "../app/distill/format-export-report.ts";
import { teacherCache } from "../app/distill/teacher-cache.ts";
import { JOBS, type JobKind, STUDENTS, type StudentName, studentLimits } from "../app/distill/students.ts";
import { DEFAULT_MIN_LOWER, formatGateDecision, minLowerByDimension } from "../app/distill/gate-decision.ts";
import { DEFAULT_GATE_FILE, runGate, writeGateFile } from "../app/distill/run-gate.ts";
import { createEvalCore } from "../app/eval/eval-core.ts";
import { modelCatalogueFor } from "../app/worker/worker.ts";
import { EMULATOR_WARNING } from "../app/eval/format-terminal.ts";
import { loadGoldSet } from "../app/eval/gold-set.ts";
import { DEFAULT_MIN_COVERAGE, DEFAULT_MIN_TEXTS, parseThresholds } from "../app/eval/thresholds.ts";
import type { Config } from "../core/config/config.ts";
import { InvalidRequestError } from "../core/errors/errors.ts";
import { createLogger } from "../core/observability/logger.ts";
import { PromptRegistry } from "../core/prompts/prompt-registry.ts";
import { configFrom } from "./config-from-flags.ts";
import { type EvalTargetFlags, openEvalTarget, requireKnownModel, withEvalTargetOptions } from "./eval-target.ts";
import { checkIntegerFlag, integerArg, shareArg } from "./numeric-flags.ts";

interface ExportFlags {
  results?: string[];
  fromCache?: boolean;
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
      "Build a training set in Bedrock's bedrock-conversation-2024 JSONL from the teacher's labels (results files, and with --from-cache the label cache) and the request texts: one record per group of texts (system prompt, " +
        "the user turn labelq sends, the teacher's answer in the lines format), texts deduplicated, split train / validation / held out by a seed, within the " +
        "student's record limits; the held-out texts are written as a gold set for `labelq eval`. Texts are user data: nothing is written without --include-texts.",
    )
    .option("--results <file>", "results JSONL as `labelq collect` writes it (repeatable; required unless --from-cache)", repeatable)
    .option(
      "--from-cache",
      "also read the teacher's labels for the --texts texts from the label cache (LABELQ_CACHE_TABLE), under the keys the worker uses for --teacher (default LABELQ_DEFAULT_MODEL), " +
        "the taxonomy and the prompt; labels under an older definition of a dimension are left out as stale; results win for a text both have",
    )
    .requiredOption("--texts <file>", "the texts to export: the producer's input .jsonl/.csv, or request messages JSONL (repeatable)", repeatable)
    .option("--include-texts", "confirm that the texts (user data) may be copied into training files; required")
    .requiredOption("--out-dir <dir>", "where train.jsonl, validation.jsonl, heldout.jsonl and report.json are written")
    .option("--overwrite", "replace the files of an earlier export in --out-dir")
    .option("--taxonomy <name>", "taxonomy (default LABELQ_DEFAULT_TAXONOMY)")
    .option("--prompt <version>", "prompt version or alias the records are rendered with; labels from other versions are left out (default LABELQ_DEFAULT_PROMPT_VERSION)")
    .option("--teacher <model>", "keep only texts this model labelled: a Bedrock model id as results carry it, or a catalogue alias (with --from-cache: an alias)")
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
      if (o.results === undefined && !o.fromCache) throw new InvalidRequestError("give the teacher's labels: --results <file>, --from-cache, or both");
      const config = configFrom({});
      const taxonomy = o.taxonomy ?? config.prompts.defaultTaxonomy;
      const version = o.prompt ?? config.prompts.defaultVersion;
      const prompts = new PromptRegistry(config.prompts.dir);
      const prompt = await prompts.resolve(taxonomy, version);
      const cache = o.fromCache ? await openTeacherCache(config, prompts, { teacher: o.teacher ?? config.models.default, taxonomy, version }) : undefined;
      const report = await exportTrainingSet({
        resultsFiles: o.results ?? [],
        ...(cache ? { teacherCache: cache.teacherCache } : {}),
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
      }).finally(() => cache?.close());
      process.stdout.write(o.json ? JSON.stringify(report, null, 2) + "\n" : formatExportReport(report) + "\n");
    });
  registerCustomizationCommands(distill);
  registerDeployCommands(distill);
  registerGateCommand(distill);
}

/**
 * The label cache as `distill export --from-cache` reads it: LABELQ_CACHE_TABLE through the
 * worker's cache adapter, keyed for the teacher (a catalogue alias: the key holds its model id and
 * answer format).
 */
async function openTeacherCache(config: Config, prompts: PromptRegistry, scope: { teacher: string; taxonomy: string; version: string }) {
  const table = config.store.cacheTable;
  if (table === undefined) throw new InvalidRequestError("--from-cache reads the label cache, but LABELQ_CACHE_TABLE is off");
  const catalogue = modelCatalogueFor(config);
  if (!catalogue.find(scope.teacher)) throw new InvalidRequestError(`--from-cache needs the teacher as a catalogue alias (--teacher, or LABELQ_DEFAULT_MODEL): ${catalogue.whyNot(scope.teacher)}`);
  const clients = createAwsClients(config);
  const cache = new DynamoLabelCache(clients.dynamo, table, createLogger(config.log));
  try {
    return {
      teacherCache: await teacherCache({ cache, catalogue, prompts, teacher: scope.teacher, taxonomy: scope.taxonomy, promptVersion: scope.version }),
      close: () => clients.destroy(),
    };
  } catch (error) {
    clients.destroy();
    throw error;
  }
}

interface GateFlags extends EvalTargetFlags {
  student: string;
  teacher: string;
  heldout: string;
  gold?: string;
  taxonomy?: string;
  prompt?: string;
  minLower?: string[];
  minCoverage: number;
  minTexts: number;
  batchSize: number;
  out: string;
  json?: boolean;
}

/** `--min-lower` values, parsed as eval parses `--min`, with errors naming the gate's flag. */
function minLowerFlags(specs: readonly string[], keys: readonly string[]): ReturnType<typeof parseThresholds> {
  try {
    return parseThresholds(specs, keys);
  } catch (error) {
    if (error instanceof InvalidRequestError) throw new InvalidRequestError(error.message.replace(/^--min /, "--min-lower "), error.issues);
    throw error;
  }
}

/** Exit code when the gate ran and held at least one dimension (1 is for errors). */
const GATE_HELD = 2;

/** `distill gate`: decide, per dimension, whether the student may answer in the teacher's place. */
function registerGateCommand(distill: Command): void {
  withEvalTargetOptions(distill.command("gate"))
    .description(
      "Score the student on the held-out texts (the teacher's labels) and, with --gold, on a human gold set, through `labelq eval`'s machinery; " +
        "PROMOTE a dimension only when the lower end of its headline's 95 % bootstrap interval reaches --min-lower on every set, with enough coverage. " +
        "Exit 0 when every dimension is promoted, 2 when any is held. Writes the decision (the promoted dimensions) to --out.",
    )
    .requiredOption("--student <alias>", "the student: a model alias in the catalogue")
    .requiredOption("--teacher <alias>", "the teacher whose labels the held-out set carries: a model alias in the catalogue")
    .requiredOption("--heldout <file>", "the held-out gold set `labelq distill export` wrote (heldout.jsonl)")
    .option("--gold <file>", "a human gold set the student must also pass on (the teacher labels it too, for reference)")
    .option("--taxonomy <name>", "taxonomy (default LABELQ_DEFAULT_TAXONOMY)")
    .option("--prompt <version>", "prompt version or alias (default LABELQ_DEFAULT_PROMPT_VERSION)")
    .option(
      "--min-lower <spec>",
      `least lower end of the interval: 0.8 (every dimension), sentiment_polarity=0.7 (one dimension); repeatable (default ${DEFAULT_MIN_LOWER})`,
      repeatable,
    )
    .option("--min-coverage <share>", "hold every dimension when fewer than this share of the texts got valid labels, and a dimension below it", shareArg("[0, 1]"), DEFAULT_MIN_COVERAGE)
    .option("--min-texts <n>", "hold a dimension whose score rests on fewer texts", integerArg(1, 1_000_000), DEFAULT_MIN_TEXTS)
    .option("--batch-size <n>", "texts per batch (as one request message)", integerArg(1, 1_000), 50)
    .option("--out <file>", "where the decision is written", DEFAULT_GATE_FILE)
    .option("--json", "print the decision as JSON instead of the table")
    .action(async (o: GateFlags) => {
      const opened = await openEvalTarget(o);
      const { config, target } = opened;
      const clients = createAwsClients(config);
      const core = createEvalCore(config, clients, createLogger(config.log), { cache: false });
      try {
        requireKnownModel(config, "--student", o.student);
        requireKnownModel(config, "--teacher", o.teacher);
        const taxonomyName = o.taxonomy ?? config.prompts.defaultTaxonomy;
        const promptVersion = o.prompt ?? config.prompts.defaultVersion;
        const prompt = await new PromptRegistry(config.prompts.dir).resolve(taxonomyName, promptVersion);
        const keys = prompt.taxonomy.dimensions.map((d) => d.key);
        const minLower = minLowerByDimension(minLowerFlags(o.minLower ?? [], keys), keys);
        const load = async (file: string) => ({ file, items: await loadGoldSet(file, prompt.taxonomy, { maxTextChars: config.limits.maxTextChars }) });
        const report = await runGate(
          prompt.taxonomy,
          {
            taxonomy: taxonomyName,
            promptVersion,
            student: o.student,
            teacher: o.teacher,
            heldout: await load(o.heldout),
            ...(o.gold === undefined ? {} : { gold: await load(o.gold) }),
            rule: { minLower, minCoverage: o.minCoverage, minTexts: o.minTexts },
            batchSize: checkIntegerFlag("--batch-size", o.batchSize, 1, config.limits.maxItems, " (LABELQ_MAX_ITEMS)"),
            bootstrap: { resamples: o.resamples, seed: o.seed },
            target,
            progress: (line) => process.stderr.write(`${line}\n`),
          },
          core,
        );
        await writeGateFile(o.out, report);
        if (o.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
        else process.stdout.write(`${target.kind === "emulator" ? `${EMULATOR_WARNING}\n` : ""}${formatGateDecision(report, report.student)}\nwrote ${o.out}\n`);
        if (!report.passed) process.exitCode = GATE_HELD;
      } finally {
        await core.close();
        clients.destroy();
        await opened.close();
      }
    });
}

interface StartFlags {
  train: string;
  validation?: string;
  student: string;
  teacher?: string;
  role: string;
  output: string;
  epochs?: number;
  learningRate?: number;
  batchSize?: number;
  stateDir: string;
  json?: boolean;
}

const STATE_DIR = "out/distill";

function learningRateArg(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0 || n >= 1) throw new InvalidArgumentError(`must be a number between 0 and 1, not "${value}"`);
  return n;
}

/** Runs `work` with a Bedrock customization control on this configuration's control-plane client, then closes the clients. */
async function withCustomizationControl<T>(work: (control: BedrockCustomizationControl, region: string) => Promise<T>): Promise<T> {
  const config = configFrom({});
  const clients = createAwsClients(config);
  try {
    return await work(new BedrockCustomizationControl(clients.bedrockControl), config.region);
  } finally {
    clients.destroy();
  }
}

/** `distill start | status | cancel`: the Bedrock model customization job that trains the student. */
function registerCustomizationCommands(distill: Command): void {
  distill
    .command("start")
    .description(
      "Start a Bedrock model customization job on an exported training set: DISTILLATION when --teacher names a teacher of the student, FINE_TUNING otherwise. " +
        "The job's name derives from the inputs and is recorded in <state-dir>/<name>.json before the job is created: run again after a crash and the job is found, not made twice.",
    )
    .requiredOption("--train <s3 uri>", "the training file (train.jsonl of `labelq distill export`, uploaded)")
    .option("--validation <s3 uri>", "the validation file")
    .addOption(new Option("--student <alias>", "the model to train").choices(Object.keys(STUDENT_MODELS)).makeOptionMandatory())
    .addOption(new Option("--teacher <alias>", "distil from this model (Bedrock calls it for responses); leave out to fine-tune").choices(Object.keys(TEACHER_MODELS)))
    .requiredOption("--role <arn>", "the customization service role Bedrock assumes (see docs/distill.md, IAM)")
    .requiredOption("--output <s3 uri>", "where Bedrock writes the job's output (metrics)")
    .option("--epochs <n>", "epochCount hyperparameter", integerArg(1, 100))
    .option("--learning-rate <x>", "learningRate hyperparameter", learningRateArg)
    .option("--batch-size <n>", "batchSize hyperparameter", integerArg(1, 1024))
    .option("--state-dir <dir>", "where job state files are kept", STATE_DIR)
    .option("--json", "print the result as JSON")
    .action(async (o: StartFlags) => {
      const result = await withCustomizationControl((control, region) =>
        startCustomization(control, {
          trainingUri: o.train,
          ...(o.validation === undefined ? {} : { validationUri: o.validation }),
          outputUri: o.output,
          student: o.student,
          ...(o.teacher === undefined ? {} : { teacher: o.teacher }),
          roleArn: o.role,
          region,
          ...(o.epochs === undefined ? {} : { epochs: o.epochs }),
          ...(o.learningRate === undefined ? {} : { learningRate: o.learningRate }),
          ...(o.batchSize === undefined ? {} : { batchSize: o.batchSize }),
          stateDir: o.stateDir,
        }),
      );
      const line = `${result.how === "created" ? "started" : result.how === "adopted" ? "adopted (made by an earlier run)" : "already started"} ${result.customizationType} job ${result.jobName}: ${result.jobArn} (state: ${result.stateFile})`;
      process.stdout.write(o.json ? JSON.stringify(result, null, 2) + "\n" : line + "\n");
    });
  distill
    .command("status [name]")
    .description("The status of a customization job (by its name), or of every job recorded in --state-dir: the custom model's ARN once Completed, the reason once Failed.")
    .option("--state-dir <dir>", "where job state files are kept", STATE_DIR)
    .option("--json", "print the statuses as JSON")
    .action(async (name: string | undefined, o: { stateDir: string; json?: boolean }) => {
      const jobs = await withCustomizationControl((control) => customizationStatus(control, o.stateDir, name));
      process.stdout.write(o.json ? JSON.stringify(jobs, null, 2) + "\n" : formatCustomizationStatus(jobs) + "\n");
    });
  distill
    .command("cancel <name>")
    .description("Stop a customization job in progress (StopModelCustomizationJob): Stopping, then Stopped.")
    .option("--state-dir <dir>", "where job state files are kept", STATE_DIR)
    .option("--json", "print the status as JSON")
    .action(async (name: string, o: { stateDir: string; json?: boolean }) => {
      const job = await withCustomizationControl((control) => cancelCustomization(control, o.stateDir, name));
      process.stdout.write(o.json ? JSON.stringify(job, null, 2) + "\n" : formatCustomizationStatus([job]) + "\n");
    });
}

interface DeployFlags {
  job: string;
  provisioned?: boolean;
  modelUnits?: number;
  commitment?: "OneMonth" | "SixMonths";
  unitHourlyUsd?: number;
  confirmHourlyCost?: number;
  catalogueOut?: string;
  alias?: string;
  wait: boolean;
  pollSeconds: number;
  timeoutMinutes: number;
  stateDir: string;
  json?: boolean;
}

function usdArg(value: string): number {
  const n = Number(value.replace(/^\$/, ""));
  if (value.trim() === "" || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`must be an amount in USD, such as 21.18, not "${value}"`);
  return n;
}

function positiveArg(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`must be a positive number, not "${value}"`);
  return n;
}

const ALIAS = /^[a-z0-9][a-z0-9.-]*$/;

function aliasArg(value: string): string {
  if (!ALIAS.test(value)) throw new InvalidArgumentError(`must be lower-case letters, digits, dots and dashes, not "${value}"`);
  return value;
}

/** One line for a finished deploy. */
function formatDeploy(r: DeployResult): string {
  const what = r.kind === "on-demand" ? "custom model deployment (on demand, billed per token)" : `Provisioned Throughput ($${r.hourlyUsd?.toFixed(2)} an hour while it exists)`;
  const lines = [`${r.student} student of ${r.jobName}: ${what} ${r.name} is ${r.status}`, `  modelId: ${r.arn}`, `  state: ${r.stateFile}`];
  if (r.catalogue !== undefined) lines.push(`  catalogue: alias ${r.catalogue.alias} in ${r.catalogue.file} (LABELQ_MODEL_CATALOGUE=${r.catalogue.file})`);
  return lines.join("\n");
}

/** `distill deploy | undeploy`: serve a trained student on Bedrock, and stop serving (and paying for) it. */
function registerDeployCommands(distill: Command): void {
  distill
    .command("deploy")
    .description(
      "Serve a student whose customization job is Completed: a Nova student as a custom model deployment (on-demand inference, billed per token), " +
        "any student with --provisioned as Provisioned Throughput (billed by the hour; refused unless --confirm-hourly-cost reaches the hourly cost shown). " +
        "Recorded in <state-dir>/deployments/<job>.json before it is created: a re-run after a crash adopts it by name. Waits until it serves; " +
        "--catalogue-out writes the student's model catalogue entry for LABELQ_MODEL_CATALOGUE (see docs/distill.md, Deploying the student).",
    )
    .requiredOption("--job <name|arn>", "the Completed customization job (its name as `distill start` printed it, or its ARN)")
    .option("--provisioned", "buy Provisioned Throughput (required for Llama students; optional for Nova)")
    .option("--model-units <n>", "model units of Provisioned Throughput (1 without a commitment)", integerArg(1, 1000), 1)
    .addOption(new Option("--commitment <term>", "Provisioned Throughput commitment (default none: hourly, deletable at any time)").choices(["OneMonth", "SixMonths"]))
    .option("--unit-hourly-usd <usd>", "price of one model unit an hour for this student and commitment, as the Bedrock console shows it", usdArg)
    .option("--confirm-hourly-cost <usd>", "the hourly cost you accept; deploy refuses Provisioned Throughput unless this reaches model units x --unit-hourly-usd", usdArg)
    .option("--catalogue-out <file>", "merge the student's catalogue entry into this JSON file (for LABELQ_MODEL_CATALOGUE)")
    .option("--alias <alias>", "the student's catalogue alias (default <student>-student, e.g. nova-micro-student)", aliasArg)
    .option("--no-wait", "return once the deployment is created, without waiting until it serves")
    .option("--poll-seconds <s>", "seconds between status checks while waiting", positiveArg, 15)
    .option("--timeout-minutes <m>", "stop waiting after this long (the deployment goes on)", positiveArg, 60)
    .option("--state-dir <dir>", "where job and deployment state files are kept", STATE_DIR)
    .option("--json", "print the result as JSON")
    .action(async (o: DeployFlags) => {
      if (!o.provisioned && (o.unitHourlyUsd !== undefined || o.confirmHourlyCost !== undefined || o.commitment !== undefined)) {
        throw new InvalidRequestError("--unit-hourly-usd, --confirm-hourly-cost and --commitment are for Provisioned Throughput: add --provisioned");
      }
      const config = configFrom({});
      const clients = createAwsClients(config);
      try {
        const result = await deployStudent(bedrockDistillControl(clients.bedrockControl), {
          job: o.job,
          stateDir: o.stateDir,
          ...(o.provisioned
            ? {
                provisioned: {
                  modelUnits: o.modelUnits ?? 1,
                  ...(o.commitment === undefined ? {} : { commitment: o.commitment }),
                  ...(o.unitHourlyUsd === undefined ? {} : { unitHourlyUsd: o.unitHourlyUsd }),
                  ...(o.confirmHourlyCost === undefined ? {} : { confirmHourlyCostUsd: o.confirmHourlyCost }),
                },
              }
            : {}),
          wait: o.wait,
          pollMs: o.pollSeconds * 1000,
          timeoutMs: o.timeoutMinutes * 60_000,
          ...(o.catalogueOut === undefined ? {} : { catalogueOut: o.catalogueOut }),
          ...(o.alias === undefined ? {} : { alias: o.alias }),
          progress: (line) => process.stderr.write(`${line}\n`),
        });
        process.stdout.write(o.json ? JSON.stringify(result, null, 2) + "\n" : formatDeploy(result) + "\n");
      } finally {
        clients.destroy();
      }
    });
  distill
    .command("undeploy")
    .description("Delete a student's custom model deployment or Provisioned Throughput (its billing stops), its state file, and with --catalogue-out its catalogue entry.")
    .requiredOption("--job <name|arn>", "the customization job whose student `distill deploy` deployed")
    .option("--catalogue-out <file>", "remove the student's entry from this catalogue file")
    .option("--alias <alias>", "the student's catalogue alias (default <student>-student)", aliasArg)
    .option("--state-dir <dir>", "where job and deployment state files are kept", STATE_DIR)
    .option("--json", "print the result as JSON")
    .action(async (o: { job: string; catalogueOut?: string; alias?: string; stateDir: string; json?: boolean }) => {
      const config = configFrom({});
      const clients = createAwsClients(config);
      try {
        const result = await undeployStudent(bedrockDistillControl(clients.bedrockControl), {
          job: o.job,
          stateDir: o.stateDir,
          ...(o.catalogueOut === undefined ? {} : { catalogueOut: o.catalogueOut }),
          ...(o.alias === undefined ? {} : { alias: o.alias }),
        });
        const what = `${result.kind === "on-demand" ? "custom model deployment" : "Provisioned Throughput"} ${result.name}`;
        const done =
          result.how === "deleted"
            ? `deleted ${what} (${result.arn})`
            : result.how === "already-gone"
              ? `${what} (${result.arn}) was already deleted; removed its record`
              : `no ${what} was ever created; removed its record`;
        const line = `${done}${result.catalogueEntryRemoved ? `; removed its entry from ${o.catalogueOut}` : ""}`;
        process.stdout.write(o.json ? JSON.stringify(result, null, 2) + "\n" : line + "\n");
      } finally {
        clients.destroy();
      }
    });
}
