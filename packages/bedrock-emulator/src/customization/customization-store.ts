import { randomBytes } from "node:crypto";
import { repeatedTokenAnswer } from "../jobs/client-token.ts";
import { controlError, type ControlError } from "../jobs/control-plane-errors.ts";
import type { JobsSettings } from "../jobs/job-settings.ts";
import type { JobStorage } from "../jobs/s3-io.ts";
import type { LabelErrorOptions } from "../label-errors.ts";
import { refuseBaseModel } from "./customization-models.ts";
import type { CreateCustomizationRequest, ListCustomizationQuery } from "./customization-request.ts";
import { checkTrainingFile } from "./training-file.ts";

/**
 * Model customization jobs (fine-tuning and distillation) as the Bedrock control plane runs them,
 * on timers:
 *
 *   InProgress (validating the data, then training) -> Completed | Failed
 *   InProgress -> Stopping -> Stopped (StopModelCustomizationJob)
 *
 * ModelCustomizationJobStatus has these five values (service model). The first step reads the
 * training and validation files from S3 and fails the job with a failureMessage when a record is
 * not bedrock-conversation-2024; TRAINING_STEPS steps later the job is Completed and its custom
 * model has an ARN (outputModelArn). Each step waits the jobs' stepMs. Sources in
 * docs/bedrock-fidelity.md, "Model customization jobs".
 */

export type CustomizationStatus = "InProgress" | "Completed" | "Failed" | "Stopping" | "Stopped";

/** Steps of training after validation: long enough for a test to stop a job in progress. */
export const TRAINING_STEPS = 5;

// The account fauxqs's STS reports, as the invocation jobs use.
const ACCOUNT = "000000000000";

interface CustomizationJob {
  id: string;
  seq: number;
  arn: string;
  region: string;
  request: CreateCustomizationRequest;
  fingerprint: string;
  status: CustomizationStatus;
  failureMessage: string | undefined;
  creationTime: number;
  lastModifiedTime: number;
  endTime: number | undefined;
  outputModelArn: string | undefined;
  trainingRecords: number | undefined;
  stepsLeft: number;
  timer: NodeJS.Timeout | undefined;
  epoch: number;
  /** The error model its custom model answers with: the emulator's studentLabelErrors when the job was created. */
  labelErrors: LabelErrorOptions;
}

/** A custom model a completed job made, as deployments and Provisioned Throughput serve it. */
export interface CustomModel {
  arn: string;
  /** The base model id as the job was given it (with its context suffix, e.g. "amazon.nova-micro-v1:0:128k"). */
  baseModelIdentifier: string;
  region: string;
  jobName: string;
  labelErrors: LabelErrorOptions;
}

export interface CustomizationStoreDeps {
  storage: JobStorage | undefined;
  /** The batch jobs' settings: stepMs and repeatTokenAnswer apply to customization jobs too. */
  settings: () => JobsSettings;
  now: () => number;
  /** The error model a job's custom model gets (read when the job is created); none when absent. */
  studentLabelErrors?: () => LabelErrorOptions;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export class CustomizationStore {
  readonly #jobs = new Map<string, CustomizationJob>();
  readonly #byToken = new Map<string, CustomizationJob>();
  readonly #deps: CustomizationStoreDeps;
  #seq = 0;
  #closed = false;

  constructor(deps: CustomizationStoreDeps) {
    this.#deps = deps;
  }

  /** Jobs created since start (a repeated clientRequestToken creates none). */
  get created(): number {
    return this.#seq;
  }

  /**
   * CreateModelCustomizationJob. A repeated clientRequestToken with the same parameters creates
   * nothing and answers as the batch jobs' repeatTokenAnswer setting says (without a jobArn by
   * default); with other parameters, ConflictException. A jobName in use is a ValidationException.
   */
  create(request: CreateCustomizationRequest, region: string): { jobArn?: string } | ControlError {
    const { clientRequestToken: token, ...rest } = request;
    const fingerprint = JSON.stringify(rest);
    const repeated = repeatedTokenAnswer(this.#byToken, token, fingerprint, "CreateModelCustomizationJob", this.#deps.settings().repeatTokenAnswer);
    if (repeated !== undefined) return repeated;
    const refused = refuseBaseModel(request.customizationType, request.baseModelIdentifier, region, request.teacherModelIdentifier);
    if (refused !== undefined) return controlError("ValidationException", refused);
    if ([...this.#jobs.values()].some((j) => j.request.jobName === request.jobName)) {
      return controlError("ValidationException", `A model customization job with the name ${request.jobName} already exists.`);
    }
    for (const key of ["epochCount", "batchSize", "learningRate"]) {
      const value = request.hyperParameters[key];
      if (value !== undefined && !(Number(value) > 0)) return controlError("ValidationException", `The hyperparameter ${key} must be a positive number; got "${value}".`);
    }
    const now = this.#deps.now();
    const id = randomBytes(6).toString("hex");
    const job: CustomizationJob = {
      id,
      seq: ++this.#seq,
      arn: `arn:aws:bedrock:${region}:${ACCOUNT}:model-customization-job/${request.baseModelIdentifier}/${id}`,
      region,
      request,
      fingerprint,
      status: "InProgress",
      failureMessage: undefined,
      creationTime: now,
      lastModifiedTime: now,
      endTime: undefined,
      outputModelArn: undefined,
      trainingRecords: undefined,
      stepsLeft: TRAINING_STEPS,
      timer: undefined,
      epoch: 0,
      labelErrors: this.#deps.studentLabelErrors?.() ?? {},
    };
    this.#jobs.set(id, job);
    if (token !== undefined) this.#byToken.set(token, job);
    this.#schedule(job, () => this.#validate(job));
    return { jobArn: job.arn };
  }

  /** GetModelCustomizationJob's answer for a job named by its ARN or its name. */
  get(identifier: string): Record<string, unknown> | undefined {
    const job = this.#find(identifier);
    return job === undefined ? undefined : detail(job);
  }

  /** ListModelCustomizationJobs: filters, creation-time order, a page; nextToken is the next page's offset. */
  list(query: ListCustomizationQuery): { summaries: Record<string, unknown>[]; nextToken: string | undefined } | ControlError {
    const matching = [...this.#jobs.values()]
      .filter((j) => query.statusEquals === undefined || j.status === query.statusEquals)
      .filter((j) => query.nameContains === undefined || j.request.jobName.includes(query.nameContains))
      .sort((a, b) => (a.creationTime - b.creationTime || a.seq - b.seq) * (query.sortOrder === "Ascending" ? 1 : -1));
    let offset = 0;
    if (query.nextToken !== undefined) {
      offset = Number(Buffer.from(query.nextToken, "base64url").toString("utf8"));
      if (!Number.isInteger(offset) || offset < 0) return controlError("ValidationException", "The nextToken is not valid.");
    }
    const page = matching.slice(offset, offset + query.maxResults);
    const next = offset + page.length;
    return { summaries: page.map(summary), nextToken: next < matching.length ? Buffer.from(String(next)).toString("base64url") : undefined };
  }

  /** StopModelCustomizationJob: a job in progress goes Stopping, then Stopped a step later. */
  stop(identifier: string): ControlError | undefined {
    const job = this.#find(identifier);
    if (job === undefined) return controlError("ResourceNotFoundException", `The model customization job ${identifier} was not found.`);
    if (job.status !== "InProgress") return controlError("ValidationException", `The model customization job ${identifier} is ${job.status} and can't be stopped.`);
    this.#set(job, "Stopping");
    this.#schedule(job, () => {
      this.#set(job, "Stopped");
      job.endTime = job.lastModifiedTime;
      return Promise.resolve();
    });
    return undefined;
  }

  /** The custom model with this ARN, once its job is Completed; undefined for any other ARN. */
  customModel(arn: string): CustomModel | undefined {
    for (const job of this.#jobs.values()) {
      if (job.status === "Completed" && job.outputModelArn === arn) {
        return { arn, baseModelIdentifier: job.request.baseModelIdentifier, region: job.region, jobName: job.request.jobName, labelErrors: job.labelErrors };
      }
    }
    return undefined;
  }

  /** Stops every timer; jobs stay as they are. */
  close(): void {
    this.#closed = true;
    for (const job of this.#jobs.values()) clearTimeout(job.timer);
  }

  #find(identifier: string): CustomizationJob | undefined {
    for (const job of this.#jobs.values()) if (job.arn === identifier || job.request.jobName === identifier) return job;
    return undefined;
  }

  #set(job: CustomizationJob, status: CustomizationStatus, failureMessage?: string): void {
    clearTimeout(job.timer);
    job.timer = undefined;
    job.status = status;
    if (failureMessage !== undefined) job.failureMessage = failureMessage;
    job.lastModifiedTime = this.#deps.now();
    job.epoch += 1;
  }

  #schedule(job: CustomizationJob, step: () => Promise<void>): void {
    if (this.#closed) return;
    const epoch = job.epoch;
    job.timer = setTimeout(() => {
      job.timer = undefined;
      // A stop that came in while the step waited wins.
      if (job.epoch !== epoch) return;
      void step();
    }, this.#deps.settings().stepMs);
  }

  /** Reads the training and validation files; a bad record fails the job, else training begins. */
  async #validate(job: CustomizationJob): Promise<void> {
    const epoch = job.epoch;
    const storage = this.#deps.storage;
    let problem: string | undefined;
    if (storage === undefined) problem = "The Bedrock emulator was started without S3 (options.s3), so it can't read the training data.";
    else {
      for (const [i, location] of [job.request.training, ...job.request.validation].entries()) {
        let text: string;
        try {
          text = await storage.read(location.bucket, location.key);
        } catch (error) {
          problem = `Amazon Bedrock could not read ${location.uri}: ${(error as Error).message}`;
          break;
        }
        const checked = checkTrainingFile(location.uri, text);
        if (i === 0) job.trainingRecords = checked.records;
        if (checked.problem !== undefined) {
          problem = checked.problem;
          break;
        }
      }
    }
    if (job.epoch !== epoch) return;
    if (problem !== undefined) {
      this.#set(job, "Failed", problem);
      job.endTime = job.lastModifiedTime;
      return;
    }
    this.#schedule(job, () => this.#train(job));
  }

  #train(job: CustomizationJob): Promise<void> {
    job.stepsLeft -= 1;
    if (job.stepsLeft > 0) {
      this.#schedule(job, () => this.#train(job));
      return Promise.resolve();
    }
    this.#set(job, "Completed");
    job.endTime = job.lastModifiedTime;
    job.outputModelArn = `arn:aws:bedrock:${job.region}:${ACCOUNT}:custom-model/${job.request.baseModelIdentifier}/${randomBytes(6).toString("hex")}`;
    return Promise.resolve();
  }
}

/** statusDetails: validation, then data processing, then training. */
function statusDetails(job: CustomizationJob): Record<string, unknown> {
  const validated = job.trainingRecords !== undefined;
  const stage = (status: string) => ({ status, creationTime: iso(job.creationTime), lastModifiedTime: iso(job.lastModifiedTime) });
  const failedEarly = job.status === "Failed";
  return {
    validationDetails: stage(!validated ? (job.status === "InProgress" ? "InProgress" : job.status === "Failed" ? "Failed" : "Stopped") : failedEarly ? "Failed" : "Completed"),
    dataProcessingDetails: stage(!validated || failedEarly ? "NotStarted" : "Completed"),
    trainingDetails: stage(!validated || failedEarly ? "NotStarted" : job.status),
  };
}

function baseModelArn(job: CustomizationJob): string {
  return `arn:aws:bedrock:${job.region}::foundation-model/${job.request.baseModelIdentifier}`;
}

function summary(job: CustomizationJob): Record<string, unknown> {
  return {
    jobArn: job.arn,
    baseModelArn: baseModelArn(job),
    jobName: job.request.jobName,
    status: job.status,
    statusDetails: statusDetails(job),
    creationTime: iso(job.creationTime),
    lastModifiedTime: iso(job.lastModifiedTime),
    ...(job.endTime === undefined ? {} : { endTime: iso(job.endTime) }),
    ...(job.outputModelArn === undefined ? {} : { customModelArn: job.outputModelArn }),
    customModelName: job.request.customModelName,
    customizationType: job.request.customizationType,
  };
}

function detail(job: CustomizationJob): Record<string, unknown> {
  const r = job.request;
  return {
    jobArn: job.arn,
    jobName: r.jobName,
    outputModelName: r.customModelName,
    ...(job.outputModelArn === undefined ? {} : { outputModelArn: job.outputModelArn }),
    ...(r.clientRequestToken === undefined ? {} : { clientRequestToken: r.clientRequestToken }),
    roleArn: r.roleArn,
    status: job.status,
    statusDetails: statusDetails(job),
    ...(job.failureMessage === undefined ? {} : { failureMessage: job.failureMessage }),
    creationTime: iso(job.creationTime),
    lastModifiedTime: iso(job.lastModifiedTime),
    ...(job.endTime === undefined ? {} : { endTime: iso(job.endTime) }),
    baseModelArn: baseModelArn(job),
    hyperParameters: r.hyperParameters,
    trainingDataConfig: r.trainingDataConfig,
    ...(r.validationDataConfig === undefined ? {} : { validationDataConfig: r.validationDataConfig }),
    outputDataConfig: r.outputDataConfig,
    customizationType: r.customizationType,
    ...(r.customizationConfig === undefined ? {} : { customizationConfig: r.customizationConfig }),
  };
}
