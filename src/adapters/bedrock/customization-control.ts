import {
  type BedrockClient,
  CreateModelCustomizationJobCommand,
  type CreateModelCustomizationJobCommandInput,
  GetModelCustomizationJobCommand,
  ListModelCustomizationJobsCommand,
  StopModelCustomizationJobCommand,
} from "@aws-sdk/client-bedrock";
import { ModelCallError } from "../../core/errors/errors.ts";
import { toModelCallError } from "./bedrock-provider.ts";

/** What a model customization job is submitted with (CreateModelCustomizationJob). */
export interface CustomizationSubmission {
  /** Derived from the inputs: how a job an earlier run made is found again. */
  jobName: string;
  customModelName: string;
  customizationType: "FINE_TUNING" | "DISTILLATION";
  /** The student: the base model fine-tuned or distilled into. */
  baseModelId: string;
  /** The teacher (DISTILLATION only). */
  teacherModelId?: string;
  roleArn: string;
  clientRequestToken: string;
  trainingUri: string;
  validationUri?: string;
  outputUri: string;
  hyperParameters: Record<string, string>;
}

/** A customization job as labelq reports it. */
export interface CustomizationJobStatus {
  jobArn: string;
  jobName: string;
  status: string;
  failureMessage?: string;
  /** The custom model's ARN once the job completed. */
  customModelArn?: string;
  creationTime?: Date;
  endTime?: Date;
}

/** Bedrock's model customization jobs as `labelq distill` uses them; BedrockCustomizationControl implements it. */
export interface CustomizationControl {
  /** CreateModelCustomizationJob; jobArn is absent when Bedrock answers a repeated clientRequestToken without one. */
  create(job: CustomizationSubmission): Promise<{ jobArn?: string }>;
  /** The job with exactly this name (ListModelCustomizationJobs nameContains, every page), or undefined. */
  findByName(jobName: string): Promise<CustomizationJobStatus | undefined>;
  /** GetModelCustomizationJob by ARN or name. */
  get(jobIdentifier: string): Promise<CustomizationJobStatus>;
  stop(jobIdentifier: string): Promise<void>;
}

/** Bedrock statuses after which a customization job no longer changes (ModelCustomizationJobStatus). */
export const CUSTOMIZATION_ENDED = new Set(["Completed", "Failed", "Stopped"]);

/** The CreateModelCustomizationJob request of a submission: every call for one job sends the same. */
export function createCustomizationInput(job: CustomizationSubmission): CreateModelCustomizationJobCommandInput {
  return {
    jobName: job.jobName,
    customModelName: job.customModelName,
    roleArn: job.roleArn,
    clientRequestToken: job.clientRequestToken,
    baseModelIdentifier: job.baseModelId,
    customizationType: job.customizationType,
    trainingDataConfig: { s3Uri: job.trainingUri },
    ...(job.validationUri === undefined ? {} : { validationDataConfig: { validators: [{ s3Uri: job.validationUri }] } }),
    outputDataConfig: { s3Uri: job.outputUri },
    hyperParameters: job.hyperParameters,
    ...(job.teacherModelId === undefined ? {} : { customizationConfig: { distillationConfig: { teacherModelConfig: { teacherModelIdentifier: job.teacherModelId } } } }),
  };
}

// Summaries per ListModelCustomizationJobs page (its maxResults: 1-1000).
const LIST_PAGE = 100;

/** CustomizationControl on the Bedrock control plane; failures classified as model calls are (toModelCallError). */
export class BedrockCustomizationControl implements CustomizationControl {
  readonly #client: BedrockClient;

  constructor(client: BedrockClient) {
    this.#client = client;
  }

  async create(job: CustomizationSubmission): Promise<{ jobArn?: string }> {
    try {
      const { jobArn } = await this.#client.send(new CreateModelCustomizationJobCommand(createCustomizationInput(job)));
      return jobArn === undefined ? {} : { jobArn };
    } catch (error) {
      throw toModelCallError(job.baseModelId, error);
    }
  }

  async findByName(jobName: string): Promise<CustomizationJobStatus | undefined> {
    let nextToken: string | undefined;
    try {
      do {
        const page = await this.#client.send(new ListModelCustomizationJobsCommand({ nameContains: jobName, maxResults: LIST_PAGE, nextToken }));
        const found = (page.modelCustomizationJobSummaries ?? []).find((j) => j.jobName === jobName);
        if (found?.jobArn !== undefined) {
          return {
            jobArn: found.jobArn,
            jobName,
            status: found.status ?? "Unknown",
            ...(found.customModelArn === undefined ? {} : { customModelArn: found.customModelArn }),
            ...(found.creationTime === undefined ? {} : { creationTime: found.creationTime }),
            ...(found.endTime === undefined ? {} : { endTime: found.endTime }),
          };
        }
        nextToken = page.nextToken;
      } while (nextToken !== undefined);
    } catch (error) {
      throw toModelCallError("bedrock-control-plane", error);
    }
    return undefined;
  }

  async get(jobIdentifier: string): Promise<CustomizationJobStatus> {
    try {
      const job = await this.#client.send(new GetModelCustomizationJobCommand({ jobIdentifier }));
      if (job.jobArn === undefined) throw new ModelCallError("MODEL_UNAVAILABLE", "bedrock-control-plane", `GetModelCustomizationJob answered without a jobArn for ${jobIdentifier}`);
      return {
        jobArn: job.jobArn,
        jobName: job.jobName ?? jobIdentifier,
        status: job.status ?? "Unknown",
        ...(job.failureMessage === undefined ? {} : { failureMessage: job.failureMessage }),
        ...(job.outputModelArn === undefined ? {} : { customModelArn: job.outputModelArn }),
        ...(job.creationTime === undefined ? {} : { creationTime: job.creationTime }),
        ...(job.endTime === undefined ? {} : { endTime: job.endTime }),
      };
    } catch (error) {
      if (error instanceof ModelCallError) throw error;
      throw toModelCallError("bedrock-control-plane", error);
    }
  }

  async stop(jobIdentifier: string): Promise<void> {
    try {
      await this.#client.send(new StopModelCustomizationJobCommand({ jobIdentifier }));
    } catch (error) {
      throw toModelCallError("bedrock-control-plane", error);
    }
  }
}
