import {
  type BedrockClient,
  CreateModelInvocationJobCommand,
  type CreateModelInvocationJobCommandInput,
  GetModelInvocationJobCommand,
  ListModelInvocationJobsCommand,
  type ModelInvocationJobSummary,
  StopModelInvocationJobCommand,
} from "@aws-sdk/client-bedrock";
import { ModelCallError } from "../../core/errors/errors.ts";
import { toModelCallError } from "./bedrock-provider.ts";

/** What a job is submitted with (CreateModelInvocationJob, modelInvocationType "Converse"). */
export interface JobSubmission {
  /** Unique per labelq job (labelq-<jobKey>): how a job an earlier call made is found again. */
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
  /**
   * Submit a job, or adopt the one an earlier call made for it (a worker that died before it
   * recorded the ARN): never a second job. `adopted` says the job was found, not made by this call.
   */
  create(job: JobSubmission): Promise<{ jobArn: string; adopted?: boolean }>;
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

/** The CreateModelInvocationJob request of a submission: every call for one job sends the same. */
export function createJobInput(job: JobSubmission): CreateModelInvocationJobCommandInput {
  return {
    jobName: job.jobName,
    roleArn: job.roleArn,
    clientRequestToken: job.clientRequestToken,
    modelId: job.modelId,
    modelInvocationType: "Converse",
    inputDataConfig: { s3InputDataConfig: { s3Uri: job.inputUri, s3InputFormat: "JSONL" } },
    outputDataConfig: { s3OutputDataConfig: { s3Uri: job.outputUri } },
    timeoutDurationInHours: job.timeoutHours,
  };
}

/** Job summaries per ListModelInvocationJobs page (its maxResults: 1-1000). */
const LIST_PAGE = 100;

/**
 * JobControl on the Bedrock control plane (@aws-sdk/client-bedrock). Failures are classified by
 * the same table as model calls (toModelCallError): throttling and unavailability are retryable
 * (the bulk loop tries again on its next pass), a ValidationException is not.
 *
 * A submission is made safe to repeat by the job's name, not by the answer to a repeated
 * clientRequestToken: the API reference says a repeated token "is ignored, but does not return an
 * error" (CreateModelInvocationJob, clientRequestToken), not that the answer carries the first
 * job's ARN. So before creating, and whenever Create answers without an ARN or refuses, the job is
 * looked for by its name (ListModelInvocationJobs, nameContains, every page) and adopted if found.
 */
export class BedrockJobControl implements JobControl {
  readonly #client: BedrockClient;

  constructor(client: BedrockClient) {
    this.#client = client;
  }

  async create(job: JobSubmission): Promise<{ jobArn: string; adopted?: boolean }> {
    // An earlier call may have made the job (the worker died before recording its ARN): adopt it.
    const earlier = await this.find(job);
    if (earlier) return { jobArn: earlier, adopted: true };
    let jobArn: string | undefined;
    try {
      ({ jobArn } = await this.#client.send(new CreateModelInvocationJobCommand(createJobInput(job))));
    } catch (error) {
      const refused = toJobSubmissionError(job.modelId, error);
      if (refused.retryable) throw refused;
      // Before a refusal ends the job: a job of this name made meanwhile (by a call the listing did
      // not show yet) is this job. A conflict on the token means such a job exists: look again later.
      const made = await this.find(job);
      if (made) return { jobArn: made, adopted: true };
      if ((error as { name?: string }).name === "ConflictException") {
        throw new ModelCallError("MODEL_UNAVAILABLE", job.modelId, `${refused.message} (a job was made with this clientRequestToken; looking for ${job.jobName} again on the next pass)`, { cause: error });
      }
      throw refused;
    }
    if (jobArn) return { jobArn };
    // A repeated token answered without an ARN: the job exists; find it by name.
    const made = await this.find(job);
    if (made) return { jobArn: made, adopted: true };
    throw new ModelCallError("MODEL_UNAVAILABLE", job.modelId, `CreateModelInvocationJob answered without a jobArn and no job named ${job.jobName} is listed yet; looking again on the next pass`);
  }

  /**
   * The ARN of the job with this exact name (ListModelInvocationJobs with nameContains, every
   * page), preferring the one made with this clientRequestToken; undefined when there is none.
   */
  async find(job: Pick<JobSubmission, "jobName" | "clientRequestToken" | "modelId">): Promise<string | undefined> {
    const named: ModelInvocationJobSummary[] = [];
    let nextToken: string | undefined;
    try {
      do {
        const page = await this.#client.send(new ListModelInvocationJobsCommand({ nameContains: job.jobName, sortBy: "CreationTime", sortOrder: "Ascending", maxResults: LIST_PAGE, nextToken }));
        named.push(...(page.invocationJobSummaries ?? []).filter((j) => j.jobName === job.jobName));
        nextToken = page.nextToken;
      } while (nextToken);
    } catch (error) {
      const e = toModelCallError(job.modelId, error);
      if (e.retryable) throw e;
      throw new ModelCallError("MODEL_REJECTED_REQUEST", job.modelId, `ListModelInvocationJobs refused (${e.message}): the worker needs bedrock:ListModelInvocationJobs to find a job an earlier submission made`, { cause: error });
    }
    // nameContains is a substring filter: only the exact name is this job.
    return (named.find((j) => j.clientRequestToken === job.clientRequestToken) ?? named[0])?.jobArn;
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
