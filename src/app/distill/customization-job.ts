import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { CustomizationControl, CustomizationJobStatus, CustomizationSubmission } from "../../adapters/bedrock/customization-control.ts";
import { InvalidRequestError } from "../../core/errors/errors.ts";
import { readStateFile, writeStateFile } from "./json-file.ts";
import { customizationTarget } from "./customization-targets.ts";

/** What `labelq distill start` is given. */
export interface StartOptions {
  trainingUri: string;
  validationUri?: string;
  outputUri: string;
  student: string;
  teacher?: string;
  roleArn: string;
  region: string;
  epochs?: number;
  learningRate?: number;
  batchSize?: number;
  /** Where each job's state file (<jobName>.json) is kept. */
  stateDir: string;
}

/**
 * A job's local record, written before CreateModelCustomizationJob is called: after a crash the
 * next run knows the name and token it used, and finds the job by name instead of making another.
 */
const stateSchema = z.object({
  jobName: z.string(),
  clientRequestToken: z.string(),
  submission: z.custom<CustomizationSubmission>((v) => typeof v === "object" && v !== null),
  jobArn: z.string().optional(),
  recordedAt: z.string(),
});
export type CustomizationState = z.infer<typeof stateSchema>;

/** How start ended: a job made now, one found by name (made by an earlier run), or one the state file already held. */
export interface StartResult {
  jobName: string;
  jobArn: string;
  customizationType: CustomizationSubmission["customizationType"];
  how: "created" | "adopted" | "recorded";
  stateFile: string;
}

const S3_URI = /^s3:\/\/[a-z0-9][-.a-z0-9]{1,61}(\/.*)?$/;

function checkUri(flag: string, uri: string | undefined): void {
  if (uri !== undefined && !S3_URI.test(uri)) throw new InvalidRequestError(`${flag} must be an s3:// URI; got "${uri}"`);
}

/**
 * The submission for these options: DISTILLATION or FINE_TUNING by the student and teacher, and a
 * job name, custom model name and clientRequestToken derived from every input, so the same
 * command always names the same job.
 */
export function customizationSubmission(o: StartOptions): CustomizationSubmission {
  checkUri("--train", o.trainingUri);
  checkUri("--validation", o.validationUri);
  checkUri("--output", o.outputUri);
  const target = customizationTarget(o.student, o.teacher, o.region);
  const hyperParameters: Record<string, string> = {};
  if (o.epochs !== undefined) hyperParameters.epochCount = String(o.epochs);
  if (o.learningRate !== undefined) hyperParameters.learningRate = String(o.learningRate);
  if (o.batchSize !== undefined) hyperParameters.batchSize = String(o.batchSize);
  const inputs = {
    type: target.customizationType,
    base: target.baseModelId,
    teacher: target.teacherModelId ?? null,
    train: o.trainingUri,
    validation: o.validationUri ?? null,
    output: o.outputUri,
    role: o.roleArn,
    hyperParameters: Object.entries(hyperParameters).sort(([a], [b]) => a.localeCompare(b)),
  };
  const digest = createHash("sha256").update(JSON.stringify(inputs)).digest("hex");
  return {
    jobName: `labelq-distill-${digest.slice(0, 12)}`,
    customModelName: `labelq-${o.student}-${digest.slice(0, 12)}`,
    customizationType: target.customizationType,
    baseModelId: target.baseModelId,
    ...(target.teacherModelId === undefined ? {} : { teacherModelId: target.teacherModelId }),
    roleArn: o.roleArn,
    clientRequestToken: digest.slice(0, 32),
    trainingUri: o.trainingUri,
    ...(o.validationUri === undefined ? {} : { validationUri: o.validationUri }),
    outputUri: o.outputUri,
    hyperParameters,
  };
}

/** The state file of a job name in `stateDir`. */
export function stateFileOf(stateDir: string, jobName: string): string {
  return path.join(stateDir, `${jobName}.json`);
}

/** A job's state file, or undefined when there is none. */
export function readState(file: string): Promise<CustomizationState | undefined> {
  return readStateFile(file, stateSchema, "a labelq distill state file");
}

const writeState = writeStateFile;

/**
 * Starts the customization job, once: the state file is written before Create; a job this command
 * already made (recorded, or found by name after a crash lost the record) is reported, not made again.
 */
export async function startCustomization(control: CustomizationControl, o: StartOptions): Promise<StartResult> {
  const submission = customizationSubmission(o);
  const file = stateFileOf(o.stateDir, submission.jobName);
  const base = { jobName: submission.jobName, customizationType: submission.customizationType, stateFile: file };
  const recorded = await readState(file);
  if (recorded?.jobArn !== undefined) return { ...base, jobArn: recorded.jobArn, how: "recorded" };
  const record = (jobArn?: string) =>
    writeState(file, { jobName: submission.jobName, clientRequestToken: submission.clientRequestToken, submission, ...(jobArn === undefined ? {} : { jobArn }), recordedAt: new Date().toISOString() });

  // An earlier run may have made the job and died before recording its ARN.
  const earlier = await control.findByName(submission.jobName);
  if (earlier !== undefined) {
    await record(earlier.jobArn);
    return { ...base, jobArn: earlier.jobArn, how: "adopted" };
  }
  await record();
  const { jobArn } = await control.create(submission);
  if (jobArn !== undefined) {
    await record(jobArn);
    return { ...base, jobArn, how: "created" };
  }
  // A repeated clientRequestToken is answered without an ARN (the API reference documents no ARN): find it by name.
  const made = await control.findByName(submission.jobName);
  if (made === undefined) {
    throw new InvalidRequestError(`CreateModelCustomizationJob answered without a jobArn and no job named ${submission.jobName} is listed yet; run the same command again to adopt it`);
  }
  await record(made.jobArn);
  return { ...base, jobArn: made.jobArn, how: "adopted" };
}

/** The names of the jobs recorded in `stateDir`, oldest name first. */
export async function recordedJobNames(stateDir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await fs.readdir(stateDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return entries.filter((e) => e.endsWith(".json")).map((e) => e.slice(0, -".json".length)).sort();
}

/** The status of one job (by its recorded ARN, or its name when none is recorded), or of every job recorded in `stateDir`. */
export async function customizationStatus(control: CustomizationControl, stateDir: string, jobName?: string): Promise<CustomizationJobStatus[]> {
  const names = jobName === undefined ? await recordedJobNames(stateDir) : [jobName];
  const statuses: CustomizationJobStatus[] = [];
  for (const name of names) {
    const state = await readState(stateFileOf(stateDir, name));
    statuses.push(await control.get(state?.jobArn ?? name));
  }
  return statuses;
}

/** Stops a job (StopModelCustomizationJob) and answers its status after the request. */
export async function cancelCustomization(control: CustomizationControl, stateDir: string, jobName: string): Promise<CustomizationJobStatus> {
  const state = await readState(stateFileOf(stateDir, jobName));
  const identifier = state?.jobArn ?? jobName;
  await control.stop(identifier);
  return control.get(identifier);
}

/** One line per job: name, status, and the custom model or the failure. */
export function formatCustomizationStatus(jobs: readonly CustomizationJobStatus[]): string {
  if (jobs.length === 0) return "no customization jobs recorded";
  return jobs
    .map((j) => [j.jobName, j.status, j.customModelArn ?? j.failureMessage ?? "", j.jobArn].filter((s) => s !== "").join("  "))
    .join("\n");
}
