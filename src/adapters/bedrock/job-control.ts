import {
  type BedrockClient,
  CreateModelInvocationJobCommand,
  GetModelInvocationJobCommand,
  StopModelInvocationJobCommand,
} from "@aws-sdk/client-bedrock";
import { ModelCallError } from "../../core/errors/errors.ts";
import { toModelCallError } from "./bedrock-provider.ts";

/** What a job is submitted with (CreateModelInvocationJob, modelInvocationType "Converse"). */
export interface JobSubmission {
  jobName: string;
  modelId: string;
  roleArn: string;
  clientRequestToken: string;
  /** s3:// prefix of the input JSONL files. */
  inputUri: string;
  /** s3:// prefix Bedrock writes `<jobId>/<file>.out` and `manifest.json.out` under. */
  outputUri: string;
  timeoutHours: number;
}

export interface JobStatus {
  status: string;
  message?: string;
  /** When Bedrock says the job ended (or will expire). */
  endTime?: Date;
}

/** Bedrock's model invocation jobs as the bulk path uses them; BedrockJobControl implements it. */
export interface JobControl {
  /** Submit a job; the same clientRequestToken returns the same job (the ARN), never a second one. */
  create(job: JobSubmission): Promise<{ jobArn: string }>;
  get(jobArn: string): Promise<JobStatus>;
  stop(jobArn: string): Promise<void>;
}

/** Bedrock statuses after which a job's output no longer changes. */
export const ENDED_STATUSES = new Set(["Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"]);
/** Ended statuses whose output holds every record Bedrock could answer. */
export const COMPLETED_STATUSES = new Set(["Completed", "PartiallyCompleted"]);

/** The job id at the end of a job ARN: Bedrock writes the output under `<outputUri>/<jobId>/`. */
export function jobIdOf(jobArn: string): string {
  return jobArn.slice(jobArn.lastIndexOf("/") + 1);
}

/**
 * How a failed CreateModelInvocationJob is classified: as a model call (toModelCallError), except
 * that ServiceQuotaExceededException there means the account has as many jobs in progress (or
 * records submitted) as its quota allows: the job is submitted again on a later pass (retryable),
 * not refused.
 */
export function toJobSubmissionError(modelId: string, error: unknown): ModelCallError {
  const e = error as { name?: string; message?: string };
  if (e.name === "ServiceQuotaExceededException") {
    return new ModelCallError("MODEL_THROTTLED", modelId, `ServiceQuotaExceededException from ${modelId}: ${e.message ?? String(error)} (too many batch inference jobs in progress; submitting again later)`, { cause: error });
  }
  return toModelCallError(modelId, error);
}

/**
 * JobControl on the Bedrock control plane (@aws-sdk/client-bedrock). Failures are classified by
 * the same table as model calls (toModelCallError): throttling and unavailability are retryable
 * (the bulk loop tries again on its next pass), a ValidationException is not.
 */
export class BedrockJobControl implements JobControl {
  readonly #client: BedrockClient;

  constructor(client: BedrockClient) {
    this.#client = client;
  }

  async create(job: JobSubmission): Promise<{ jobArn: string }> {
    try {
      const out = await this.#client.send(
        new CreateModelInvocationJobCommand({
          jobName: job.jobName,
          roleArn: job.roleArn,
          clientRequestToken: job.clientRequestToken,
          modelId: job.modelId,
          modelInvocationType: "Converse",
          inputDataConfig: { s3InputDataConfig: { s3Uri: job.inputUri, s3InputFormat: "JSONL" } },
          outputDataConfig: { s3OutputDataConfig: { s3Uri: job.outputUri } },
          timeoutDurationInHours: job.timeoutHours,
        }),
      );
      if (!out.jobArn) throw new ModelCallError("MODEL_UNAVAILABLE", job.modelId, "CreateModelInvocationJob answered without a jobArn");
      return { jobArn: out.jobArn };
    } catch (error) {
      throw error instanceof ModelCallError ? error : toJobSubmissionError(job.modelId, error);
    }
  }

  async get(jobArn: string): Promise<JobStatus> {
    try {
      const out = await this.#client.send(new GetModelInvocationJobCommand({ jobIdentifier: jobArn }));
      return { status: out.status ?? "Submitted", message: out.message, endTime: out.endTime };
    } catch (error) {
      throw toModelCallError(jobArn, error);
    }
  }

  async stop(jobArn: string): Promise<void> {
    try {
      await this.#client.send(new StopModelInvocationJobCommand({ jobIdentifier: jobArn }));
    } catch (error) {
      throw toModelCallError(jobArn, error);
    }
  }
}
