import { PutObjectCommand } from "@aws-sdk/client-s3";
import fs from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import { type AwsClients, createAwsClients } from "../../adapters/aws-clients.ts";
import { BedrockCustomizationControl } from "../../adapters/bedrock/customization-control.ts";
import { loadConfig } from "../../core/config/config.ts";
import type { LabelResult } from "../../core/contracts/result.ts";
import { InvalidRequestError } from "../../core/errors/errors.ts";
import { PromptRegistry } from "../../core/prompts/prompt-registry.ts";
import { customizationStatus, startCustomization } from "./customization-job.ts";
import { deployStudent } from "./deploy-student.ts";
import { EXPORT_FILES, exportTrainingSet } from "./export-training-set.ts";
import { formatGateDecision } from "./gate-decision.ts";
import { formatRouteFigures, type RouteFigures, routeFigures } from "./route-comparison.ts";
import { runGate, writeGateFile } from "./run-gate.ts";
import { studentLimits } from "./students.ts";
import { createEvalCore } from "../eval/eval-core.ts";
import { loadGoldSet } from "../eval/gold-set.ts";
import { labelGoldTexts } from "../eval/label-gold-texts.ts";
import { type LocalStack, startLocalStack } from "../local/local-stack.ts";
import { readTexts } from "../producer/read-texts.ts";
import { screenTexts } from "../producer/screen-texts.ts";
import { createWorker, type Worker } from "../worker/worker.ts";
import { type DemoOptions, oneRun } from "../demo/run-demo.ts";

export interface DistillDemoOptions {
  textsFile: string;
  /** Where the results, the training set, the job and deployment records, the catalogue entry and the gate are written. */
  outDir: string;
  batchSize: number;
  /** The process environment: labelq settings in it apply, the local stack's endpoints win. */
  env: Record<string, string | undefined>;
  logger: Logger;
  timeoutMs: number;
  /** Bedrock emulator settings; `studentLabelErrors` sets the trained student's errors per dimension. */
  emulator: DemoOptions["emulator"];
  /** The student's share of the teacher's texts in the canary step (0.1 = 10 %). */
  canaryShare: number;
  maxTextChars: number;
  write: (line: string) => void;
}

/** What the distillation demo found, for its summary line and for tests. */
export interface DistillDemoSummary {
  student: string;
  teacher: string;
  promoted: string[];
  held: string[];
  canary: { texts: number; byStudent: number };
  figures: { teacher: RouteFigures; student: RouteFigures; cascade: RouteFigures };
}

/**
 * The trained student's errors on the emulator unless --emulator sets studentLabelErrors: two
 * dimensions flipped often enough for the gate to hold them, the rest exact. (In the lines
 * answer format the emulator names a dimension after its title; these two read as their keys.)
 */
export const DEMO_STUDENT_ERRORS = { flip: { sentiment_polarity: 0.4, urgency: 0.4 } };

/** The student model the demo trains: Nova Micro, fine-tuned on the teacher's labels, deployed on demand. */
const STUDENT = "nova-micro";
/** Any role ARN: the emulator checks its form, not IAM. */
const DEMO_ROLE = "arn:aws:iam::000000000000:role/labelq-customization";

/**
 * From teacher to routed student on the embedded stack and the Bedrock emulator (a test double):
 * label the sample with the teacher through the queues, export a training set, train a student
 * (a model customization job), deploy it (a custom model deployment, written into a catalogue
 * file), gate it per dimension on the held-out texts, send it a canary share of the teacher's
 * texts, and compare teacher, student and cascade on the held-out texts: agreement with the
 * teacher and cost per 1,000 texts. The last line written is the one-line summary.
 */
export async function runDistillDemo(o: DistillDemoOptions): Promise<DistillDemoSummary> {
  const texts = screenTexts(await readTexts(o.textsFile), o.maxTextChars, o.textsFile).send;
  await fs.rm(o.outDir, { recursive: true, force: true });
  await fs.mkdir(o.outDir, { recursive: true });
  const files = {
    teacherResults: path.join(o.outDir, "teacher-results.jsonl"),
    export: path.join(o.outDir, "training-set"),
    state: path.join(o.outDir, "jobs"),
    catalogue: path.join(o.outDir, "catalogue.json"),
    gate: path.join(o.outDir, "gate.json"),
  };
  let stack: LocalStack | undefined;
  let clients: AwsClients | undefined;
  let worker: Worker | undefined;
  try {
    stack = await startLocalStack({ emulator: { ...o.emulator, jobs: { stepMs: 50 }, logger: (line) => o.logger.info(line) } });
    const env = { LABELQ_WAIT_TIME_S: "1", ...o.env, ...stack.env };
    const teacherConfig = loadConfig(env);
    const teacher = teacherConfig.models.default;
    clients = createAwsClients(teacherConfig);
    const queueRun = { batchSize: o.batchSize, timeoutMs: o.timeoutMs, external: false, write: o.write };

    o.write(`1/7 teacher: labelling ${texts.length} texts with ${teacher} through the queues`);
    worker = createWorker(teacherConfig, clients, o.logger);
    worker.pool.start();
    const teacherResults = await oneRun(queueRun, teacherConfig, clients, texts, 1);
    await worker.close();
    worker = undefined;
    await fs.writeFile(files.teacherResults, teacherResults.map((r) => JSON.stringify(r)).join("\n") + "\n");

    o.write(`2/7 export: a training set from the teacher's labels (the sample's texts are not user data, so --include-texts is given here)`);
    const prompt = await new PromptRegistry(teacherConfig.prompts.dir).resolve(teacherConfig.prompts.defaultTaxonomy, teacherConfig.prompts.defaultVersion);
    const exported = await exportTrainingSet({
      resultsFiles: [files.teacherResults],
      textFiles: [o.textsFile],
      includeTexts: true,
      prompt,
      limits: studentLimits("nova", "fine-tuning"),
      textsPerRecord: 20,
      shares: { validation: 0.1, heldout: 0.3, seed: 1 },
      minExamples: 20,
      outDir: files.export,
      overwrite: true,
    });
    o.write(`   ${exported.splits.train.texts} training, ${exported.splits.validation.texts} validation and ${exported.splits.heldout.texts} held-out texts`);

    o.write(`3/7 train: a FINE_TUNING job for ${STUDENT} on the emulator`);
    const control = new BedrockCustomizationControl(clients.bedrockControl);
    const upload = async (file: string) => {
      const key = `distill/${path.basename(file)}`;
      await clients!.s3.send(new PutObjectCommand({ Bucket: stack!.bulkBucket, Key: key, Body: await fs.readFile(file) }));
      return `s3://${stack!.bulkBucket}/${key}`;
    };
    const started = await startCustomization(control, {
      trainingUri: await upload(path.join(files.export, EXPORT_FILES.train)),
      ...(exported.splits.validation.file ? { validationUri: await upload(exported.splits.validation.file) } : {}),
      outputUri: `s3://${stack.bulkBucket}/distill/output/`,
      student: STUDENT,
      roleArn: DEMO_ROLE,
      region: teacherConfig.region,
      stateDir: files.state,
    });
    await waitForJob(control, files.state, started.jobName, o.timeoutMs);
    o.write(`   ${started.jobName} Completed`);

    o.write(`4/7 deploy: an on-demand custom model deployment, written into ${files.catalogue}`);
    const deployed = await deployStudent(control, { job: started.jobName, stateDir: files.state, wait: true, pollMs: 50, timeoutMs: o.timeoutMs, catalogueOut: files.catalogue, progress: (line) => o.write(`   ${line}`) });
    const student = deployed.catalogue!.alias;

    o.write(`5/7 gate: ${student} against ${teacher} on the held-out texts, per dimension`);
    const studentEnv = { ...env, LABELQ_MODEL_CATALOGUE: files.catalogue };
    const heldoutFile = path.join(files.export, EXPORT_FILES.heldout);
    const heldout = await loadGoldSet(heldoutFile, prompt.taxonomy, { maxTextChars: o.maxTextChars });
    const target = { kind: "emulator" as const, description: "the Bedrock emulator (a test double) on the embedded stack" };
    const core = createEvalCore(loadConfig(studentEnv), clients, o.logger, { cache: false });
    let gate;
    try {
      const keys = prompt.taxonomy.dimensions.map((d) => d.key);
      gate = await runGate(
        prompt.taxonomy,
        {
          taxonomy: prompt.taxonomy.name,
          promptVersion: prompt.version,
          student,
          teacher,
          heldout: { file: heldoutFile, items: heldout },
          rule: { minLower: Object.fromEntries(keys.map((k) => [k, 0.6])), minCoverage: 0.95, minTexts: 30 },
          batchSize: o.batchSize,
          bootstrap: { resamples: 500, seed: 1 },
          target,
        },
        core,
      );
    } finally {
      await core.close();
    }
    await writeGateFile(files.gate, gate);
    o.write(formatGateDecision(gate, student));

    o.write(`6/7 canary: ${Math.round(o.canaryShare * 100)} % of ${teacher}'s texts to ${student} (LABELQ_MODEL_ROUTES), the sample again through the queues`);
    const canaryRoutes = JSON.stringify({ [teacher]: { canary: { model: student, share: o.canaryShare } } });
    const canaryConfig = loadConfig({ ...studentEnv, LABELQ_MODEL_ROUTES: canaryRoutes });
    worker = createWorker(canaryConfig, clients, o.logger);
    worker.pool.start();
    const canaryResults = await oneRun(queueRun, canaryConfig, clients, texts, 2);
    await worker.close();
    worker = undefined;
    const canary = { texts: countItems(canaryResults), byStudent: countItems(canaryResults, (m) => m === deployed.arn) };
    o.write(`   ${canary.byStudent} of ${canary.texts} texts answered by ${student}; the rest by ${teacher} (from its label cache)`);

    o.write(`7/7 compare: teacher, student and cascade on the ${heldout.length} held-out texts (cache off)`);
    const cascadeRoutes = JSON.stringify({ [teacher]: { cascade: { student, gate: files.gate } } });
    const compareCore = createEvalCore(loadConfig({ ...studentEnv, LABELQ_MODEL_ROUTES: cascadeRoutes }), clients, o.logger, { cache: false });
    const plainCore = createEvalCore(loadConfig(studentEnv), clients, o.logger, { cache: false });
    let figures: DistillDemoSummary["figures"];
    try {
      const run = (model: string, runId: string, viaRoutes: boolean) =>
        labelGoldTexts(heldout, { taxonomy: prompt.taxonomy.name, promptVersion: prompt.version, model, batchSize: o.batchSize, cache: false, runId }, viaRoutes ? compareCore : plainCore);
      figures = {
        teacher: routeFigures(`teacher (${teacher})`, heldout, await run(teacher, "demo-distill-teacher", false)),
        student: routeFigures(`student (${student})`, heldout, await run(student, "demo-distill-student", false)),
        cascade: routeFigures(`cascade (${student}, then ${teacher} for ${gate.held.length} held dimension${gate.held.length === 1 ? "" : "s"} and disagreements)`, heldout, await run(teacher, "demo-distill-cascade", true)),
      };
    } finally {
      await compareCore.close();
      await plainCore.close();
    }
    o.write(formatRouteFigures([figures.teacher, figures.student, figures.cascade]));
    o.write("NOTE: labels come from the Bedrock emulator, a test double; the student's errors are the ones set by --emulator studentLabelErrors, not a trained model's.");
    const summary: DistillDemoSummary = { student, teacher, promoted: gate.promoted, held: gate.held, canary, figures };
    o.write(summaryLine(summary));
    return summary;
  } finally {
    await worker?.close().catch(() => undefined);
    clients?.destroy();
    await stack?.close();
  }
}

/** Items across results, or those whose model passes `which`. */
function countItems(results: readonly LabelResult[], which: (model: string | null) => boolean = () => true): number {
  return results.reduce((n, r) => n + r.items.filter((it) => which(it.model)).length, 0);
}

/** Polls the job until it is Completed; any other end is an error. */
async function waitForJob(control: BedrockCustomizationControl, stateDir: string, jobName: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [job] = await customizationStatus(control, stateDir, jobName);
    if (job?.status === "Completed") return;
    if (job && job.status !== "InProgress") throw new InvalidRequestError(`customization job ${jobName} ended ${job.status}: ${job.failureMessage ?? "no reason given"}`);
    if (Date.now() > deadline) throw new InvalidRequestError(`customization job ${jobName} still ${job?.status ?? "unknown"} after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The demo in one line: the gate, the canary, and agreement and cost per 1,000 texts of each route. */
export function summaryLine(s: DistillDemoSummary): string {
  const f = (r: RouteFigures) => `${r.agreement === null ? "n/a" : `${(100 * r.agreement).toFixed(1)} %`} at $${r.costPer1k.toFixed(4)}/1k`;
  const dims = s.promoted.length + s.held.length;
  return (
    `distill demo (emulator): gate promoted ${s.promoted.length}/${dims} dimensions of ${s.student}; canary ${s.canary.byStudent}/${s.canary.texts} texts; ` +
    `agreement with ${s.teacher} and cost: teacher ${f(s.figures.teacher)}, student ${f(s.figures.student)}, cascade ${f(s.figures.cascade)}`
  );
}
