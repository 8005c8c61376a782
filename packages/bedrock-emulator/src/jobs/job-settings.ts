import { z } from "zod";

/**
 * Settings of the model invocation job emulator: time scale, quotas and faults. One schema for
 * the options passed in code and for PUT /_emulator/faults {"jobs": ...}, so a typo fails loudly.
 */

/**
 * Bedrock's batch inference quotas (defaults as docs: quotas and batch-inference-data give them;
 * see docs/bedrock-fidelity.md). Tests lower them to exercise a limit with small files.
 */
export const jobQuotasSchema = z.strictObject({
  /** Minimum records across a job's input files ("Minimum number of records per batch inference job"; 100 for the models modelled). */
  minRecordsPerJob: z.number().int().min(1).default(100),
  /** Records in one input file ("Records per input file per batch inference job"). */
  maxRecordsPerFile: z.number().int().min(1).default(50_000),
  /** Bytes of one input file ("Batch inference input file size", 1 GB; the decimal figure, the stricter reading). */
  maxFileBytes: z.number().int().min(1).default(1_000_000_000),
  /** Bytes of all of a job's input files ("Batch inference job size", 5 GB). */
  maxJobBytes: z.number().int().min(1).default(5_000_000_000),
  /** Jobs submitted or in progress per model ("Sum of in-progress and submitted batch inference jobs", 20). */
  maxJobsPerModel: z.number().int().min(1).default(20),
});

/** Injected faults, off by default; each applies to the jobs submitted while it is set. */
export const jobFaultsSchema = z.strictObject({
  /** Share (0..1) of records answered with a per-record error line instead of modelOutput; the job ends Completed (the service reports per-record errors in the output). */
  recordErrorRate: z.number().min(0).max(1).default(0),
  /** The job stops after this share (0..1) of records, as if its time ran out: PartiallyCompleted, output for the records done. */
  partialShare: z.number().min(0).max(1).optional(),
  /** The job fails at validation, or half-way through processing (output for the records done, none for the rest). */
  fail: z.enum(["validation", "processing"]).optional(),
  /** The job never leaves Scheduled (no capacity): it expires when timeoutDurationInHours has passed on the emulator's clock (see hourMs). */
  neverStart: z.boolean().default(false),
  /** Output lines cut in the middle of their JSON (a truncated line), per output file. */
  malformedLines: z.number().int().min(0).default(0),
  /** Records left out of the output (counted as processed), per output file. */
  missingRecords: z.number().int().min(0).default(0),
  /** Each status step takes this many times stepMs (slow progress). */
  slowFactor: z.number().min(1).default(1),
});

/**
 * What CreateModelInvocationJob answers a repeated clientRequestToken with the same parameters.
 * The API reference says only that Bedrock "ignores the request, but does not return an error"
 * (CreateModelInvocationJob, clientRequestToken); that the answer carries the first job's ARN is not
 * documented. "no-arn", the default, gives what is documented: 200 and no new job, without a jobArn.
 * "original-arn" answers the first job's ARN, as many AWS idempotent creates do.
 */
export const repeatTokenAnswerSchema = z.enum(["no-arn", "original-arn"]);

export const jobsOptionsSchema = z.strictObject({
  /** Milliseconds per status step (Submitted -> Validating -> Scheduled -> InProgress -> ...); default 50. */
  stepMs: z.number().min(0).default(50),
  /**
   * Steps wait for advance() instead of a timer: a test drives a job one step at a time and sees
   * every status it means to, whatever the machine's load. Set before the job is submitted.
   */
  manual: z.boolean().default(false),
  /** Records answered per InProgress step; default 1,000. */
  recordsPerStep: z.number().int().min(1).default(1_000),
  /** How long an hour of timeoutDurationInHours lasts here, in milliseconds; default a real hour. */
  hourMs: z.number().min(1).default(3_600_000),
  /** The answer to a repeated clientRequestToken (see repeatTokenAnswerSchema); default "no-arn", only what the API reference documents. */
  repeatTokenAnswer: repeatTokenAnswerSchema.default("no-arn"),
  /**
   * Model units the account may spread across Provisioned Throughputs with a commitment. AWS grants
   * none until asked ("default quota of 0 model units", prov-throughput): default 0. No-commitment
   * throughput for custom models has its own fixed quota (deployment-store.ts).
   */
  provisionedModelUnits: z.number().int().min(0).default(0),
  quotas: jobQuotasSchema.prefault({}),
  faults: jobFaultsSchema.prefault({}),
});

export type JobQuotas = z.output<typeof jobQuotasSchema>;
export type JobFaults = z.output<typeof jobFaultsSchema>;
export type JobsSettings = z.output<typeof jobsOptionsSchema>;
export type RepeatTokenAnswer = z.output<typeof repeatTokenAnswerSchema>;
/** What callers pass: every field optional. */
export type JobsOptions = z.input<typeof jobsOptionsSchema>;
export type JobFaultsInput = z.input<typeof jobFaultsSchema>;
export type JobQuotasInput = z.input<typeof jobQuotasSchema>;
