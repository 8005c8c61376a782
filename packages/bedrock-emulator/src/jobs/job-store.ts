import { randomBytes } from "node:crypto";
import { repeatedTokenAnswer } from "./client-token.ts";
import { seededRandom } from "../random.ts";
import type { BedrockModel } from "../bedrock-models.ts";
import { isAwsError } from "../converse-request.ts";
import type { LabelErrorOptions } from "../label-errors.ts";
import { resolveModel } from "../model-rules.ts";
import type { LenientRule } from "../strictness.ts";
import { controlError, type ControlError } from "./control-plane-errors.ts";
import { parseInputFiles, selectInputObjects, type InputFile } from "./input-records.ts";
import type { CreateJobRequest, ListJobsQuery } from "./job-request.ts";
import type { JobStatus, JobTransition, JobView } from "./job-types.ts";
import type { JobFaults, JobsSettings } from "./job-settings.ts";
import { answerRecord, renderOutputFile, type Manifest, type OutputLine } from "./record-processor.ts";
import { outputKey, type JobStorage } from "./s3-io.ts";

/**
 * Model invocation jobs (batch inference) as the Bedrock control plane runs them, on timers:
 *
 *   Submitted -> Validating -> Scheduled -> InProgress -> Completed | PartiallyCompleted | Failed
 *                    |             |  `-> Expired (never started before its timeout)
 *                    `-> Failed    any of the four -> Stopping -> Stopped (StopModelInvocationJob)
 *
 * Each step waits stepMs (x slowFactor) on a timer, never blocking the event loop, or for
 * advance() when a test drives the jobs (manual); every status is kept in the job's history. Validating
 * reads the input from S3, InProgress answers recordsPerStep records per step and writes the
 * output files and manifest.json.out when the job ends. At its timeout (jobExpirationTime) a job
 * that has begun ends PartiallyCompleted with what it answered; one that never began, Expired.
 * Statuses, fields and rules: sources in
 * docs/bedrock-fidelity.md, "Batch inference (model invocation jobs)".
 */

/** Statuses that count against "submitted or in progress" jobs per model, and that StopModelInvocationJob accepts. */
const ACTIVE: ReadonlySet<JobStatus> = new Set(["Submitted", "Validating", "Scheduled", "InProgress"]);
const ENDED: ReadonlySet<JobStatus> = new Set(["Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"]);

// The account fauxqs's STS reports; a job ARN needs 12 digits.
const ACCOUNT = "000000000000";

interface Job {
  id: string;
  seq: number;
  arn: string;
  request: CreateJobRequest;
  /** The request without its token, to compare a repeated token's parameters. */
  fingerprint: string;
  model: BedrockModel;
  faults: JobFaults;
  random: () => number;
  status: JobStatus;
  message: string | undefined;
  submitTime: number;
  lastModifiedTime: number;
  endTime: number | undefined;
  expirationTime: number;
  files: InputFile[];
  /** Next record to answer: file index and record index in it. */
  cursor: { file: number; record: number };
  outputs: Map<string, OutputLine[]>;
  counts: { total: number | undefined; processed: number; success: number; error: number; inputTokens: number; outputTokens: number };
  timer: NodeJS.Timeout | undefined;
  /** In manual mode, the next step, run by advance() instead of a timer. */
  nextStep: (() => Promise<void>) | undefined;
  /** How long the step that runs next waited (stepMs x slowFactor); recorded with the status it sets. */
  stepMs: number | undefined;
  /** Every status the job took, in order: tests read transient statuses here instead of racing a poll. */
  history: { status: JobStatus; at: number; stepMs?: number }[];
  /** Bumped on every status change: a step that finds it changed (a stop came in while it awaited S3) gives up. */
  epoch: number;
}

export interface JobStoreDeps {
  storage: JobStorage | undefined;
  settings: () => JobsSettings;
  now: () => number;
  seed: number;
  lenient: () => ReadonlySet<LenientRule>;
  labelErrors: () => LabelErrorOptions;
}

export class JobStore {
  readonly #jobs = new Map<string, Job>();
  readonly #byToken = new Map<string, Job>();
  readonly #deps: JobStoreDeps;
  #closed = false;
  #seq = 0;

  constructor(deps: JobStoreDeps) {
    this.#deps = deps;
  }

  /** Jobs created since start (a repeated clientRequestToken creates none). */
  get created(): number {
    return this.#seq;
  }

  /**
   * CreateModelInvocationJob after the body passed validation. The same clientRequestToken with
   * the same parameters creates nothing (API reference: "If this token matches a previous request,
   * Amazon Bedrock ignores the request, but does not return an error") and answers without a jobArn,
   * or with the first job's when the repeatTokenAnswer setting is "original-arn" (undocumented);
   * with other parameters it is a ConflictException.
   */
  create(request: CreateJobRequest, region: string): { jobArn?: string } | ControlError {
    const { clientRequestToken: token, ...rest } = request;
    const fingerprint = JSON.stringify(rest);
    const repeated = repeatedTokenAnswer(this.#byToken, token, fingerprint, "CreateModelInvocationJob", this.#deps.settings().repeatTokenAnswer);
    if (repeated !== undefined) return repeated;
    if (request.modelInvocationType !== "Converse") {
      return controlError(
        "ValidationException",
        "The Bedrock emulator (test double) runs batch jobs with modelInvocationType Converse only; the InvokeModel type (the service's default) is not emulated. Set modelInvocationType to Converse.",
      );
    }
    const lenient = this.#deps.lenient();
    const model = resolveModel(request.modelId, lenient, region);
    if (isAwsError(model)) return controlError("ValidationException", model.message);
    if (model.batch !== true && !lenient.has("unknown-model")) {
      return controlError("ValidationException", `The model ${request.modelId} doesn't support batch inference. Choose a model that supports batch inference and try again.`);
    }
    const settings = this.#deps.settings();
    const active = [...this.#jobs.values()].filter((j) => j.request.modelId === request.modelId && (ACTIVE.has(j.status) || j.status === "Stopping")).length;
    if (active >= settings.quotas.maxJobsPerModel) {
      return controlError(
        "ServiceQuotaExceededException",
        `You have reached the quota of ${settings.quotas.maxJobsPerModel} batch inference jobs submitted or in progress for the model ${request.modelId}. Wait for a job to end, or stop one, and try again.`,
      );
    }

    const now = this.#deps.now();
    const id = randomJobId();
    const seq = ++this.#seq;
    const job: Job = {
      id,
      seq,
      arn: `arn:aws:bedrock:${region}:${ACCOUNT}:model-invocation-job/${id}`,
      request,
      fingerprint,
      model,
      faults: settings.faults,
      random: seededRandom(this.#deps.seed * 7919 + seq),
      status: "Submitted",
      message: undefined,
      submitTime: now,
      lastModifiedTime: now,
      endTime: undefined,
      expirationTime: now + request.timeoutDurationInHours * settings.hourMs,
      files: [],
      cursor: { file: 0, record: 0 },
      outputs: new Map(),
      counts: { total: undefined, processed: 0, success: 0, error: 0, inputTokens: 0, outputTokens: 0 },
      timer: undefined,
      nextStep: undefined,
      stepMs: undefined,
      history: [{ status: "Submitted", at: now }],
      epoch: 0,
    };
    this.#jobs.set(id, job);
    if (token !== undefined) this.#byToken.set(token, job);
    this.#schedule(job, () => this.#validate(job));
    return { jobArn: job.arn };
  }

  get(id: string): JobView | undefined {
    const job = this.#jobs.get(id);
    return job === undefined ? undefined : view(job);
  }

  /** ListModelInvocationJobs: filters, then submit-time order, then a page; nextToken is the offset of the next page. */
  list(query: ListJobsQuery): { jobs: JobView[]; nextToken: string | undefined } | ControlError {
    const matching = [...this.#jobs.values()]
      .filter((j) => query.statusEquals === undefined || j.status === query.statusEquals)
      .filter((j) => query.nameContains === undefined || j.request.jobName.includes(query.nameContains))
      .filter((j) => query.submitTimeAfter === undefined || j.submitTime > query.submitTimeAfter)
      .filter((j) => query.submitTimeBefore === undefined || j.submitTime < query.submitTimeBefore)
      .sort((a, b) => (a.submitTime - b.submitTime || a.seq - b.seq) * (query.sortOrder === "Ascending" ? 1 : -1));
    let offset = 0;
    if (query.nextToken !== undefined) {
      offset = Number(Buffer.from(query.nextToken, "base64url").toString("utf8"));
      if (!Number.isInteger(offset) || offset < 0) return controlError("ValidationException", "The nextToken is not valid.");
    }
    const page = matching.slice(offset, offset + query.maxResults);
    const next = offset + page.length;
    return { jobs: page.map(view), nextToken: next < matching.length ? Buffer.from(String(next)).toString("base64url") : undefined };
  }

  /** Every status a job has taken so far, oldest first (for tests); undefined for an unknown job. */
  history(id: string): JobTransition[] | undefined {
    return this.#jobs.get(id)?.history.map((h) => ({ ...h, at: new Date(h.at) }));
  }

  /**
   * Runs a job's next step now, when jobs run in manual mode; resolves once the step (and the S3
   * reads or writes it makes) has ended. False when the job has no step waiting.
   */
  async advance(id: string): Promise<boolean> {
    const job = this.#jobs.get(id);
    const step = job?.nextStep;
    if (job === undefined || step === undefined) return false;
    job.nextStep = undefined;
    await step();
    return true;
  }

  /** Every job, oldest first (for tests). */
  all(): JobView[] {
    return [...this.#jobs.values()].sort((a, b) => a.seq - b.seq).map(view);
  }

  /** StopModelInvocationJob: a job not yet ended goes Stopping, then Stopped with the output of the records it answered. */
  stop(id: string): ControlError | undefined {
    const job = this.#jobs.get(id);
    if (job === undefined) return controlError("ResourceNotFoundException", `The model invocation job ${id} was not found.`);
    if (!ACTIVE.has(job.status)) {
      return controlError("ConflictException", `The model invocation job ${id} is ${job.status} and can't be stopped.`);
    }
    const hadOutput = job.status === "InProgress" && job.counts.processed > 0;
    this.#set(job, "Stopping");
    this.#schedule(job, async () => {
      if (hadOutput) await this.#writeOutputs(job);
      this.#end(job, "Stopped", undefined);
    });
    return undefined;
  }

  /** Stops every timer; jobs stay as they are. */
  close(): void {
    this.#closed = true;
    for (const job of this.#jobs.values()) clearTimeout(job.timer);
  }

  #set(job: Job, status: JobStatus, message?: string): void {
    clearTimeout(job.timer);
    job.timer = undefined;
    job.nextStep = undefined;
    job.status = status;
    if (message !== undefined) job.message = message;
    job.lastModifiedTime = this.#deps.now();
    job.history.push({ status, at: job.lastModifiedTime, ...(job.stepMs === undefined ? {} : { stepMs: job.stepMs }) });
    job.stepMs = undefined;
    job.epoch += 1;
  }

  #end(job: Job, status: JobStatus, message: string | undefined): void {
    this.#set(job, status, message);
    job.endTime = job.lastModifiedTime;
  }

  /** Runs step after stepMs x slowFactor (or at advance() in manual mode), unless the job's status changed meanwhile or the store closed. */
  #schedule(job: Job, step: () => void | Promise<void>): void {
    if (this.#closed) return;
    const { stepMs, manual } = this.#deps.settings();
    const epoch = job.epoch;
    const delay = stepMs * job.faults.slowFactor;
    const run = async (): Promise<void> => {
      job.timer = undefined;
      if (job.epoch !== epoch || this.#closed) return;
      job.stepMs = delay;
      try {
        await step();
      } catch (error: unknown) {
        if (ENDED.has(job.status)) return;
        this.#end(job, "Failed", `Internal error: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        job.stepMs = undefined;
      }
    };
    clearTimeout(job.timer);
    job.timer = undefined;
    if (manual) {
      job.nextStep = run;
      return;
    }
    job.timer = setTimeout(() => void run(), delay);
  }

  async #validate(job: Job): Promise<void> {
    this.#set(job, "Validating");
    const epoch = job.epoch;
    const checked = await this.#readInput(job);
    if (job.epoch !== epoch) return;
    if (typeof checked === "string") return this.#end(job, "Failed", checked);
    job.files = checked;
    job.counts.total = checked.reduce((n, f) => n + f.records.length, 0);
    this.#schedule(job, () => this.#scheduled(job));
  }

  /** The job's records, or why validation fails. */
  async #readInput(job: Job): Promise<InputFile[] | string> {
    if (job.faults.fail === "validation") return "The input data failed validation. (injected by the emulator)";
    const storage = this.#deps.storage;
    const { input } = job.request;
    if (storage === undefined) return `Amazon Bedrock can't access the input location ${input.uri}: the emulator has no S3 endpoint.`;
    const { quotas } = this.#deps.settings();
    let listed;
    try {
      listed = await storage.list(input.bucket, input.key);
    } catch (error) {
      return `Amazon Bedrock can't access the input location ${input.uri}: ${error instanceof Error ? error.message : String(error)}`;
    }
    const selected = selectInputObjects(listed, input.key, quotas);
    if ("message" in selected) return selected.message;
    const texts = [];
    for (const o of selected.objects) texts.push({ key: o.key, text: await storage.read(input.bucket, o.key) });
    const parsed = parseInputFiles(texts, quotas, job.random);
    return parsed.ok ? parsed.files : parsed.message;
  }

  #scheduled(job: Job): void {
    this.#set(job, "Scheduled");
    if (job.faults.neverStart) {
      // No capacity ever frees: the job waits until its timeout and expires (SDK docs: "Expired
      // - This job timed out because it was scheduled but didn't begin before the set timeout duration").
      const epoch = job.epoch;
      // Timers may fire a millisecond early against the clock: wait again until the expiration time has passed.
      const expireAtTimeout = () => {
        if (job.epoch !== epoch || this.#closed) return;
        const left = job.expirationTime - this.#deps.now();
        if (left > 0) job.timer = setTimeout(expireAtTimeout, left);
        else this.#end(job, "Expired", "The job timed out: it was scheduled but didn't begin before the timeout duration.");
      };
      job.timer = setTimeout(expireAtTimeout, Math.max(0, job.expirationTime - this.#deps.now()));
      return;
    }
    this.#schedule(job, () => this.#process(job));
  }

  async #process(job: Job): Promise<void> {
    if (job.status !== "InProgress") {
      // Its timeout passed before it began (a slow Validating or Scheduled step): Expired, never InProgress.
      if (this.#deps.now() >= job.expirationTime) return this.#finish(job, job.epoch, "Expired");
      this.#set(job, "InProgress");
    }
    const epoch = job.epoch;
    const settings = this.#deps.settings();
    const total = job.counts.total ?? 0;
    const partialAt = job.faults.partialShare === undefined ? undefined : Math.floor(total * job.faults.partialShare);
    const failAt = job.faults.fail === "processing" ? Math.floor(total / 2) : undefined;
    const ctx = { model: job.model, seed: this.#deps.seed, lenient: this.#deps.lenient(), labelErrors: this.#deps.labelErrors(), random: job.random };
    let answered = 0;
    while (answered < settings.recordsPerStep) {
      const processed = job.counts.processed;
      if (failAt !== undefined && processed >= failAt) {
        await this.#writeOutputs(job);
        if (job.epoch === epoch) this.#end(job, "Failed", "The job failed while processing records. (injected by the emulator)");
        return;
      }
      if (partialAt !== undefined && processed >= partialAt) return this.#finish(job, epoch, "PartiallyCompleted");
      // The timeout reached once the job has begun: PartiallyCompleted ("Not all of your records could
      // be processed in time"), even with no record answered yet; Expired is only for a job that
      // "was scheduled but didn't begin before the set timeout duration" (ModelInvocationJobStatus).
      if (this.#deps.now() >= job.expirationTime) return this.#finish(job, epoch, "PartiallyCompleted");
      const file = job.files[job.cursor.file];
      if (file === undefined) return this.#finish(job, epoch, "Completed");
      const record = file.records[job.cursor.record];
      if (record === undefined) {
        job.cursor = { file: job.cursor.file + 1, record: 0 };
        continue;
      }
      const outcome = answerRecord(record, ctx, job.random() < job.faults.recordErrorRate);
      const lines = job.outputs.get(file.name) ?? [];
      lines.push(outcome.line);
      job.outputs.set(file.name, lines);
      job.counts.processed += 1;
      if (outcome.line.error === undefined) job.counts.success += 1;
      else job.counts.error += 1;
      job.counts.inputTokens += outcome.inputTokens;
      job.counts.outputTokens += outcome.outputTokens;
      job.cursor.record += 1;
      answered += 1;
    }
    job.lastModifiedTime = this.#deps.now();
    this.#schedule(job, () => this.#process(job));
  }

  async #finish(job: Job, epoch: number, status: "Completed" | "PartiallyCompleted" | "Expired"): Promise<void> {
    if (status !== "Expired") await this.#writeOutputs(job);
    if (job.epoch !== epoch) return;
    const message = status === "PartiallyCompleted" ? "Not all of the records could be processed before the job ended." : status === "Expired" ? "The job timed out." : undefined;
    this.#end(job, status, message);
  }

  /** One <input file>.out per input file with answered records, and manifest.json.out, under <output>/<jobId>/. */
  async #writeOutputs(job: Job): Promise<void> {
    const storage = this.#deps.storage;
    if (storage === undefined) return;
    const { output } = job.request;
    for (const [name, lines] of job.outputs) {
      const text = renderOutputFile(lines, job.random, { malformedLines: job.faults.malformedLines, missingRecords: job.faults.missingRecords });
      await storage.write(output.bucket, outputKey(output, job.id, `${name}.out`), text);
    }
    const c = job.counts;
    const manifest: Manifest = {
      totalRecordCount: c.total ?? 0,
      processedRecordCount: c.processed,
      successRecordCount: c.success,
      errorRecordCount: c.error,
      inputTokenCount: c.inputTokens,
      outputTokenCount: c.outputTokens,
    };
    await storage.write(output.bucket, outputKey(output, job.id, "manifest.json.out"), JSON.stringify(manifest));
  }
}

/** 12 lowercase letters and digits, as ModelInvocationJobArn's pattern has it. */
function randomJobId(): string {
  const chars = "abcdefghijklmnopqrstuvwxyz0123456789";
  return [...randomBytes(12)].map((b) => chars[b % chars.length]).join("");
}

function view(job: Job): JobView {
  const r = job.request;
  const c = job.counts;
  return {
    jobArn: job.arn,
    jobName: r.jobName,
    modelId: r.modelId,
    ...(r.clientRequestToken === undefined ? {} : { clientRequestToken: r.clientRequestToken }),
    roleArn: r.roleArn,
    status: job.status,
    ...(job.message === undefined ? {} : { message: job.message }),
    submitTime: new Date(job.submitTime),
    lastModifiedTime: new Date(job.lastModifiedTime),
    ...(job.endTime === undefined ? {} : { endTime: new Date(job.endTime) }),
    inputDataConfig: r.inputDataConfig,
    outputDataConfig: r.outputDataConfig,
    timeoutDurationInHours: r.timeoutDurationInHours,
    jobExpirationTime: new Date(job.expirationTime),
    ...(r.modelInvocationType === undefined ? {} : { modelInvocationType: r.modelInvocationType }),
    ...(c.total === undefined
      ? {}
      : { totalRecordCount: c.total, processedRecordCount: c.processed, successRecordCount: c.success, errorRecordCount: c.error }),
  };
}
