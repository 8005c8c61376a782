import type { LabelRequest } from "../contracts/request.ts";
import type { ErrorCode } from "../errors/errors.ts";

/**
 * Where a bulk batch is:
 *  pending      taken off SQS, waiting to be gathered into a job
 *  assigned     in a job (jobKey), waiting for its output
 *  publishing   its result is being recorded and published (a crash here republishes the stored result)
 *  handing-off  being sent to the live path or the DLQ (a crash or a failed send here sends it again on a later pass)
 *  done         published from its job's output (with live re-asks for texts the job did not label)
 *  live         sent back to the requests queue as a live request
 *  dead-lettered  sent to the DLQ with the reason
 */
export type IntakeState = "pending" | "assigned" | "publishing" | "handing-off" | "done" | "live" | "dead-lettered";

/** One bulk batch, durable from the moment its SQS message is deleted. */
export interface IntakeRecord {
  batchId: string;
  payloadHash: string;
  /** Model alias the batch is labelled with. */
  model: string;
  request: LabelRequest;
  /** Where the result goes (resolved against the allow-list when the message was taken). */
  replyTo: string;
  receivedAt: string;
  state: IntakeState;
  /** Incremented by every change; every change is conditional on the version read. */
  version: number;
  jobKey?: string;
  /** The prompt version the records were built with (an alias resolved once, so output is read with the same prompt). */
  promptVersion?: string;
  /** Texts per record, in order (see chunkSizesFor). */
  chunks?: number[];
  /** Why it went live or to the DLQ. */
  reason?: string;
  /** Where a handing-off batch goes. */
  handOffTo?: "live" | "dlq";
  /**
   * The code of the error that sent it (BATCH_ID_CONFLICT, MODEL_TIMEOUT, ...), stored with
   * handOffTo so that a hand-off resumed after a crash reaches the DLQ under that code. Absent on
   * records written before it was kept: those are sent with a code that fits their destination.
   */
  handOffCode?: ErrorCode;
  updatedAt: string;
}

/**
 * Where a job is (labelq's side; bedrockStatus is Bedrock's):
 *  assembling  intake records being assigned and input files written
 *  submitting  files written, clientRequestToken recorded; CreateModelInvocationJob may or may not have been called
 *  running     Bedrock has the job (jobArn); polled until it ends
 *  collecting  ended; outputs being read, batches published or handed off
 *  done        every batch of the job is done, live or dead-lettered
 */
export type JobState = "assembling" | "submitting" | "running" | "collecting" | "done";

export interface JobRecord {
  jobKey: string;
  model: string;
  modelId: string;
  state: JobState;
  version: number;
  /** Fresh per job and recorded before CreateModelInvocationJob: a retried call returns the same job. */
  clientRequestToken: string;
  jobName: string;
  jobArn?: string;
  /** Bedrock's status: Submitted, Validating, Scheduled, InProgress, Completed, PartiallyCompleted, Failed, Stopping, Stopped, Expired. */
  bedrockStatus?: string;
  /** Bedrock's message, or why the submission was refused. */
  message?: string;
  /**
   * S3 key prefixes (in the bulk bucket) of the input files and of the output. Once assembled, the
   * input prefix is the folder of the assembly that won (jsonl-files.ts, assemblyInputPrefix).
   */
  inputPrefix: string;
  outputPrefix: string;
  /**
   * The service role, bucket and timeout the job is submitted with, recorded when the job is
   * created (the bucket: where its input files were written), so that a retried or resumed
   * submission sends what the first one would have even if the configuration changed meanwhile.
   * Absent on jobs written before it was recorded: those are submitted with the configuration's.
   */
  submission?: RecordedSubmission;
  files: string[];
  /**
   * S3 key of the job's record map: what each record id stands for (batch, chunk, text ids), one
   * gzipped JSONL line per record, written with the input files. Absent for jobs assembled before
   * record ids were numbered: their record ids are the record keys themselves.
   */
  recordMap?: string;
  records: number;
  batches: number;
  createdAt: string;
  updatedAt: string;
  submittedAt?: string;
  endedAt?: string;
  /** An operator asked to stop the job (labelq jobs cancel). */
  cancelRequested?: boolean;
  /** The worker collecting the job, until when (epoch ms): one collector at a time. */
  collector?: { owner: string; until: number };
  /** Counts once collected. */
  summary?: JobSummary;
}

/** What a job is submitted with beyond its model, name, token and prefixes (see JobRecord.submission). */
export interface RecordedSubmission {
  /** The service role Bedrock assumes to read the input and write the output (LABELQ_BULK_ROLE_ARN). */
  roleArn: string;
  /** The bucket of the job's input and output (LABELQ_BULK_BUCKET). */
  bucket: string;
  /** timeoutDurationInHours (LABELQ_BULK_JOB_TIMEOUT_H). */
  timeoutHours: number;
}

export interface JobSummary {
  answeredRecords: number;
  failedRecords: number;
  missingRecords: number;
  malformedLines: number;
  labelledTexts: number;
  reaskedTexts: number;
  publishedBatches: number;
  liveBatches: number;
  deadLetteredBatches: number;
  costUsd: number;
}

/** What accepting a bulk batch found. */
export type AcceptOutcome = { kind: "accepted" } | { kind: "duplicate"; state: IntakeState } | { kind: "conflict"; storedPayloadHash: string };

/** The bulk path's durable records, on conditional writes only (no transactions: dynalite has none). */
export interface BulkStore {
  /** Record a new bulk batch as pending, once: a second delivery of the same payload is a duplicate. */
  accept(intake: Omit<IntakeRecord, "state" | "version" | "updatedAt">): Promise<AcceptOutcome>;
  /** A batch as it is now (a strongly consistent read): what a step confirms a listed batch with. */
  findIntake(batchId: string): Promise<IntakeRecord | undefined>;
  /**
   * Batches waiting for a job on one model, oldest first. Listed through an index that may lag
   * (DynamoDB: a GSI, eventually consistent): a row may be stale, and a batch that just changed
   * may be missing; a step that acts on one reads it again with findIntake.
   */
  pending(model: string): Promise<IntakeRecord[]>;
  /** The batches of one job, through the same lagging index as pending. */
  batchesOf(jobKey: string): Promise<IntakeRecord[]>;
  /** Batches being handed off outside any job (taken from pending): the loop finishes their hand-off. */
  handingOff(): Promise<IntakeRecord[]>;
  /**
   * Change an intake record if it is still as read (same version): the changed record, or
   * undefined when another worker changed it first. A field set to undefined is removed.
   */
  updateIntake(current: IntakeRecord, changes: IntakeChanges): Promise<IntakeRecord | undefined>;
  /** Create a job record; it must not exist. */
  createJob(job: Omit<JobRecord, "version" | "updatedAt">): Promise<void>;
  getJob(jobKey: string): Promise<JobRecord | undefined>;
  /** Every job still on record, newest first. */
  jobs(): Promise<JobRecord[]>;
  /** Change a job record if it is still as read (same version); see updateIntake. */
  updateJob(current: JobRecord, changes: JobChanges): Promise<JobRecord | undefined>;
}

export type IntakeChanges = Partial<Pick<IntakeRecord, "state" | "jobKey" | "promptVersion" | "chunks" | "reason" | "handOffTo" | "handOffCode">>;
export type JobChanges = Partial<Omit<JobRecord, "jobKey" | "model" | "modelId" | "version" | "updatedAt" | "createdAt" | "clientRequestToken">>;

/** States a batch does not leave. */
export const FINAL_INTAKE_STATES: readonly IntakeState[] = ["done", "live", "dead-lettered"];
