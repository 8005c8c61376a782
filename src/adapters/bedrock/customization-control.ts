import {
  type BedrockClient,
  CreateCustomModelDeploymentCommand,
  CreateModelCustomizationJobCommand,
  CreateProvisionedModelThroughputCommand,
  DeleteCustomModelDeploymentCommand,
  DeleteProvisionedModelThroughputCommand,
  GetCustomModelDeploymentCommand,
  GetProvisionedModelThroughputCommand,
  ListCustomModelDeploymentsCommand,
  ListProvisionedModelThroughputsCommand,
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
  /** The student's base model id, from the job's baseModelArn (GetModelCustomizationJob only). */
  baseModelId?: string;
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

/**
 * CustomizationControl on the Bedrock control plane, and HostingControl for the custom models its
 * jobs make (delegated to BedrockHostingControl); failures classified as model calls are (toModelCallError).
 */
export class BedrockCustomizationControl implements CustomizationControl, HostingControl {
  readonly #client: BedrockClient;
  readonly #hosting: HostingControl;

  constructor(client: BedrockClient) {
    this.#client = client;
    this.#hosting = new BedrockHostingControl(client);
  }

  createHosting(submission: HostingSubmission): Promise<{ arn?: string }> {
    return this.#hosting.createHosting(submission);
  }

  findHosting(kind: HostingKind, name: string): Promise<HostingStatus | undefined> {
    return this.#hosting.findHosting(kind, name);
  }

  getHosting(kind: HostingKind, identifier: string): Promise<HostingStatus | undefined> {
    return this.#hosting.getHosting(kind, identifier);
  }

  deleteHosting(kind: HostingKind, identifier: string): Promise<"deleted" | "not-found"> {
    return this.#hosting.deleteHosting(kind, identifier);
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
        ...(job.baseModelArn === undefined ? {} : { baseModelId: job.baseModelArn.slice(job.baseModelArn.lastIndexOf("/") + 1) }),
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

/** How a custom model is served: a custom model deployment (on demand) or Provisioned Throughput. */
export type HostingKind = "on-demand" | "provisioned";

/** What a custom model is deployed with (CreateCustomModelDeployment or CreateProvisionedModelThroughput). */
export interface HostingSubmission {
  kind: HostingKind;
  /** modelDeploymentName / provisionedModelName: derived from the job, how an earlier run's hosting is found again. */
  name: string;
  customModelArn: string;
  clientRequestToken: string;
  /** Provisioned only. */
  modelUnits?: number;
  /** Provisioned only; absent: no commitment. */
  commitment?: "OneMonth" | "SixMonths";
}

/** A deployment or Provisioned Throughput as labelq reports it. */
export interface HostingStatus {
  kind: HostingKind;
  arn: string;
  name: string;
  /** Creating | Active | Failed (deployment); Creating | InService | Updating | Failed (provisioned). */
  status: string;
  failureMessage?: string;
  /** Provisioned only. */
  modelUnits?: number;
  /** Provisioned only; absent: no commitment. */
  commitment?: "OneMonth" | "SixMonths";
}

/** Statuses in which a deployment or Provisioned Throughput serves inference. */
export const HOSTING_READY = new Set(["Active", "InService"]);

/** Bedrock's custom model deployments and Provisioned Throughput as `labelq distill deploy` uses them. */
export interface HostingControl {
  /** jobArn-like answer: arn is absent when Bedrock answers a repeated clientRequestToken without one. */
  createHosting(submission: HostingSubmission): Promise<{ arn?: string }>;
  /** The deployment or throughput with exactly this name (List* nameContains, every page), or undefined. */
  findHosting(kind: HostingKind, name: string): Promise<HostingStatus | undefined>;
  /** Get* by ARN or name; undefined when Bedrock answers ResourceNotFoundException (deleted, or never made). */
  getHosting(kind: HostingKind, identifier: string): Promise<HostingStatus | undefined>;
  /** Delete*; "not-found" when Bedrock answers ResourceNotFoundException: nothing is left to bill. */
  deleteHosting(kind: HostingKind, identifier: string): Promise<"deleted" | "not-found">;
}

// Get* and Delete* of both kinds list ResourceNotFoundException (404) among their errors
// (API reference: GetCustomModelDeployment, DeleteCustomModelDeployment, GetProvisionedModelThroughput,
// DeleteProvisionedModelThroughput): the deployment is gone, which deploy and undeploy take as an answer.
const isNotFound = (error: unknown) => (error as { name?: string }).name === "ResourceNotFoundException";

const commitmentOf = (value: string | undefined): { commitment?: "OneMonth" | "SixMonths" } =>
  value === "OneMonth" || value === "SixMonths" ? { commitment: value } : {};

/** HostingControl on the Bedrock control plane; failures classified as model calls are (toModelCallError). */
export class BedrockHostingControl implements HostingControl {
  readonly #client: BedrockClient;

  constructor(client: BedrockClient) {
    this.#client = client;
  }

  async createHosting(h: HostingSubmission): Promise<{ arn?: string }> {
    try {
      if (h.kind === "on-demand") {
        const out = await this.#client.send(new CreateCustomModelDeploymentCommand({ modelDeploymentName: h.name, modelArn: h.customModelArn, clientRequestToken: h.clientRequestToken }));
        return out.customModelDeploymentArn === undefined ? {} : { arn: out.customModelDeploymentArn };
      }
      const out = await this.#client.send(
        new CreateProvisionedModelThroughputCommand({
          provisionedModelName: h.name,
          modelId: h.customModelArn,
          modelUnits: h.modelUnits ?? 1,
          clientRequestToken: h.clientRequestToken,
          ...(h.commitment === undefined ? {} : { commitmentDuration: h.commitment }),
        }),
      );
      return out.provisionedModelArn === undefined ? {} : { arn: out.provisionedModelArn };
    } catch (error) {
      throw toModelCallError(h.customModelArn, error);
    }
  }

  async findHosting(kind: HostingKind, name: string): Promise<HostingStatus | undefined> {
    let nextToken: string | undefined;
    try {
      do {
        if (kind === "on-demand") {
          const page = await this.#client.send(new ListCustomModelDeploymentsCommand({ nameContains: name, maxResults: LIST_PAGE, nextToken }));
          const found = (page.modelDeploymentSummaries ?? []).find((d) => d.customModelDeploymentName === name);
          if (found?.customModelDeploymentArn !== undefined) {
            return { kind, arn: found.customModelDeploymentArn, name, status: found.status ?? "Unknown", ...(found.failureMessage === undefined ? {} : { failureMessage: found.failureMessage }) };
          }
          nextToken = page.nextToken;
        } else {
          const page = await this.#client.send(new ListProvisionedModelThroughputsCommand({ nameContains: name, maxResults: LIST_PAGE, nextToken }));
          const found = (page.provisionedModelSummaries ?? []).find((p) => p.provisionedModelName === name);
          if (found?.provisionedModelArn !== undefined) {
            return {
              kind,
              arn: found.provisionedModelArn,
              name,
              status: found.status ?? "Unknown",
              ...(found.modelUnits === undefined ? {} : { modelUnits: found.modelUnits }),
              ...commitmentOf(found.commitmentDuration),
            };
          }
          nextToken = page.nextToken;
        }
      } while (nextToken !== undefined);
    } catch (error) {
      throw toModelCallError("bedrock-control-plane", error);
    }
    return undefined;
  }

  async getHosting(kind: HostingKind, identifier: string): Promise<HostingStatus | undefined> {
    try {
      if (kind === "on-demand") {
        const d = await this.#client.send(new GetCustomModelDeploymentCommand({ customModelDeploymentIdentifier: identifier }));
        return {
          kind,
          arn: d.customModelDeploymentArn ?? identifier,
          name: d.modelDeploymentName ?? identifier,
          status: d.status ?? "Unknown",
          ...(d.failureMessage === undefined ? {} : { failureMessage: d.failureMessage }),
        };
      }
      const p = await this.#client.send(new GetProvisionedModelThroughputCommand({ provisionedModelId: identifier }));
      return {
        kind,
        arn: p.provisionedModelArn ?? identifier,
        name: p.provisionedModelName ?? identifier,
        status: p.status ?? "Unknown",
        ...(p.failureMessage === undefined ? {} : { failureMessage: p.failureMessage }),
        ...(p.modelUnits === undefined ? {} : { modelUnits: p.modelUnits }),
        ...commitmentOf(p.commitmentDuration),
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw toModelCallError("bedrock-control-plane", error);
    }
  }

  async deleteHosting(kind: HostingKind, identifier: string): Promise<"deleted" | "not-found"> {
    try {
      if (kind === "on-demand") await this.#client.send(new DeleteCustomModelDeploymentCommand({ customModelDeploymentIdentifier: identifier }));
      else await this.#client.send(new DeleteProvisionedModelThroughputCommand({ provisionedModelId: identifier }));
      return "deleted";
    } catch (error) {
      if (isNotFound(error)) return "not-found";
      throw toModelCallError("bedrock-control-plane", error);
    }
  }
}

/** Customization jobs and the hosting of their custom models on one Bedrock control-plane client. */
export function bedrockDistillControl(client: BedrockClient): CustomizationControl & HostingControl {
  return new BedrockCustomizationControl(client);
}
