import { randomBytes } from "node:crypto";
import { awsError, type AwsError } from "../aws-errors.ts";
import { repeatedTokenAnswer } from "../jobs/client-token.ts";
import { controlError, type ControlError } from "../jobs/control-plane-errors.ts";
import type { JobsSettings } from "../jobs/job-settings.ts";
import { bareBaseId, customModelRules, isNovaBase } from "./custom-model-rules.ts";
import type { CustomModel } from "./customization-store.ts";
import type { CreateDeploymentRequest, CreateProvisionedRequest, ListDeploymentsQuery } from "./deployment-request.ts";
import type { InvocationTarget } from "./invocation-target.ts";

/**
 * Custom model deployments (on-demand inference of a custom Nova model) and Provisioned
 * Throughput (any custom model), as the Bedrock control plane runs them, on timers:
 *
 *   deployment:   Creating -> Active                  (CustomModelDeploymentStatus: Creating | Active | Failed)
 *   provisioned:  Creating -> InService               (ProvisionedModelStatus: Creating | InService | Updating | Failed)
 *
 * Each takes READY_STEPS steps of the jobs' stepMs. Converse with modelId = the deployment's or the
 * provisioned model's ARN answers as the custom model (its base model's rules, the error model its
 * job was created with) once it is Active / InService. Like Bedrock's control plane, every operation is
 * regional: names, ARNs, lists, deletes, tokens and quotas are scoped by the Region the request was signed
 * for (an unsigned request: us-east-1). Every rule and its source: docs/bedrock-fidelity.md,
 * "Custom model deployments and Provisioned Throughput" (D1-D13); wording Bedrock does not document is marked ‡ there.
 */

/** Steps a deployment stays Creating (and a Provisioned Throughput Creating) before it serves. */
export const READY_STEPS = 3;

// "You can deploy a custom model for on-demand inference in ... US East (N. Virginia), US West (Oregon)"
// (userguide deploy-custom-model-on-demand).
export const ON_DEMAND_DEPLOYMENT_REGIONS: readonly string[] = ["us-east-1", "us-west-2"];

// The account fauxqs's STS reports, as the invocation and customization jobs use.
const ACCOUNT = "000000000000";
const DAY_HOURS = 24;
// prov-throughput: "For custom models with no commitment, a quota of one model unit is available for
// each Provisioned Throughput. You can create up to two Provisioned Throughputs per account."
const NO_COMMIT_UNITS = 1;
const NO_COMMIT_PER_ACCOUNT = 2;
const COMMITMENT_HOURS = { OneMonth: 30 * DAY_HOURS, SixMonths: 182 * DAY_HOURS } as const;

export type DeploymentStatus = "Creating" | "Active" | "Failed";
export type ProvisionedStatus = "Creating" | "InService" | "Updating" | "Failed";

interface Served {
  id: string;
  seq: number;
  arn: string;
  name: string;
  region: string;
  model: CustomModel;
  fingerprint: string;
  createdAt: number;
  lastUpdatedAt: number;
  stepsLeft: number;
  timer: NodeJS.Timeout | undefined;
}

interface Deployment extends Served {
  kind: "deployment";
  status: DeploymentStatus;
  description: string | undefined;
}

interface Provisioned extends Served {
  kind: "provisioned";
  status: ProvisionedStatus;
  modelUnits: number;
  commitment: "OneMonth" | "SixMonths" | undefined;
  commitmentEndsAt: number | undefined;
}

export interface DeploymentStoreDeps {
  /** The custom model with this ARN, once its customization job is Completed. */
  customModel: (arn: string) => CustomModel | undefined;
  /** stepMs, hourMs, repeatTokenAnswer and provisionedModelUnits apply here. */
  settings: () => JobsSettings;
  now: () => number;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const newId = () => randomBytes(6).toString("hex");

export class DeploymentStore {
  readonly #deployments = new Map<string, Deployment>();
  readonly #provisioned = new Map<string, Provisioned>();
  // Keyed by Region and token (tokenKey). A token stays used after its deployment is deleted: Bedrock does
  // not say how long it remembers one, and a client that repeats a token after a delete must not rely on it.
  readonly #byToken = new Map<string, { fingerprint: string; arn: string }>();
  readonly #deps: DeploymentStoreDeps;
  #seq = 0;
  #closed = false;

  constructor(deps: DeploymentStoreDeps) {
    this.#deps = deps;
  }

  /** Deployments and Provisioned Throughputs created since start (a repeated clientRequestToken creates none). */
  get created(): number {
    return this.#seq;
  }

  /** CreateCustomModelDeployment: a Completed custom Nova model, in a Region that offers on-demand deployment. */
  createDeployment(request: CreateDeploymentRequest, region: string): { customModelDeploymentArn?: string } | ControlError {
    const { clientRequestToken: token, ...rest } = request;
    const fingerprint = JSON.stringify({ op: "deployment", ...rest });
    const repeated = this.#repeated(token, region, fingerprint, "CreateCustomModelDeployment");
    if (repeated !== undefined) return "error" in repeated ? repeated : repeated.arn === undefined ? {} : { customModelDeploymentArn: repeated.arn };
    if (!ON_DEMAND_DEPLOYMENT_REGIONS.includes(region)) {
      return controlError("ValidationException", `Custom model deployment for on-demand inference isn't supported in ${region}. Supported Regions: ${ON_DEMAND_DEPLOYMENT_REGIONS.join(", ")}.`);
    }
    const model = this.#customModel(request.modelArn, region);
    if ("error" in model) return model;
    if (!isNovaBase(model.baseModelIdentifier)) {
      return controlError(
        "ValidationException",
        `The custom model ${request.modelArn} (base model ${model.baseModelIdentifier}) doesn't support on-demand inference. Purchase Provisioned Throughput to use it.`,
      );
    }
    if (this.#findDeployment(request.modelDeploymentName, region) !== undefined) {
      return controlError("ConflictException", `A custom model deployment with the name ${request.modelDeploymentName} already exists.`);
    }
    const id = newId();
    const now = this.#deps.now();
    const deployment: Deployment = {
      kind: "deployment",
      id,
      seq: ++this.#seq,
      arn: `arn:aws:bedrock:${region}:${ACCOUNT}:custom-model-deployment/${id}`,
      name: request.modelDeploymentName,
      region,
      model,
      fingerprint,
      createdAt: now,
      lastUpdatedAt: now,
      stepsLeft: READY_STEPS,
      timer: undefined,
      status: "Creating",
      description: request.description,
    };
    this.#deployments.set(id, deployment);
    if (token !== undefined) this.#byToken.set(tokenKey(region, token), { fingerprint, arn: deployment.arn });
    this.#advance(deployment, () => {
      deployment.status = "Active";
    });
    return { customModelDeploymentArn: deployment.arn };
  }

  /** CreateProvisionedModelThroughput for a Completed custom model, within the account's model units. */
  createProvisioned(request: CreateProvisionedRequest, region: string): { provisionedModelArn?: string } | ControlError {
    const { clientRequestToken: token, ...rest } = request;
    const fingerprint = JSON.stringify({ op: "provisioned", ...rest });
    const repeated = this.#repeated(token, region, fingerprint, "CreateProvisionedModelThroughput");
    if (repeated !== undefined) return "error" in repeated ? repeated : repeated.arn === undefined ? {} : { provisionedModelArn: repeated.arn };
    if (!request.modelId.includes(":custom-model/")) {
      // An emulator limit, not Bedrock's: Bedrock sells Provisioned Throughput for base models too.
      return controlError("ValidationException", `The Bedrock emulator serves Provisioned Throughput for custom models only, not ${request.modelId}.`);
    }
    const model = this.#customModel(request.modelId, region);
    if ("error" in model) return model;
    if (this.#findProvisioned(request.provisionedModelName, region) !== undefined) {
      return controlError("ConflictException", `A Provisioned Throughput with the name ${request.provisionedModelName} already exists.`);
    }
    const refused = this.#refuseUnits(request, region);
    if (refused !== undefined) return refused;
    const id = newId();
    const now = this.#deps.now();
    const provisioned: Provisioned = {
      kind: "provisioned",
      id,
      seq: ++this.#seq,
      arn: `arn:aws:bedrock:${region}:${ACCOUNT}:provisioned-model/${id}`,
      name: request.provisionedModelName,
      region,
      model,
      fingerprint,
      createdAt: now,
      lastUpdatedAt: now,
      stepsLeft: READY_STEPS,
      timer: undefined,
      status: "Creating",
      modelUnits: request.modelUnits,
      commitment: request.commitmentDuration,
      commitmentEndsAt: undefined,
    };
    this.#provisioned.set(id, provisioned);
    if (token !== undefined) this.#byToken.set(tokenKey(region, token), { fingerprint, arn: provisioned.arn });
    this.#advance(provisioned, () => {
      provisioned.status = "InService";
      // The term starts once the throughput serves ‡ (the API gives only commitmentExpirationTime).
      if (provisioned.commitment !== undefined) provisioned.commitmentEndsAt = this.#deps.now() + COMMITMENT_HOURS[provisioned.commitment] * this.#deps.settings().hourMs;
    });
    return { provisionedModelArn: provisioned.arn };
  }

  /** GetCustomModelDeployment by ARN or name, in the request's Region. */
  getDeployment(identifier: string, region: string): Record<string, unknown> | undefined {
    const d = this.#findDeployment(identifier, region);
    return d === undefined ? undefined : deploymentDetail(d);
  }

  /** GetProvisionedModelThroughput by ARN or name, in the request's Region. */
  getProvisioned(identifier: string, region: string): Record<string, unknown> | undefined {
    const p = this.#findProvisioned(identifier, region);
    return p === undefined ? undefined : provisionedDetail(p);
  }

  /** ListCustomModelDeployments of the request's Region: filters, newest first, a page. */
  listDeployments(query: ListDeploymentsQuery, region: string): { summaries: Record<string, unknown>[]; nextToken: string | undefined } | ControlError {
    return page(inRegion(this.#deployments, region), query, deploymentSummary);
  }

  /** ListProvisionedModelThroughputs of the request's Region: filters, newest first, a page. */
  listProvisioned(query: ListDeploymentsQuery, region: string): { summaries: Record<string, unknown>[]; nextToken: string | undefined } | ControlError {
    return page(inRegion(this.#provisioned, region), query, provisionedDetail);
  }

  /** DeleteCustomModelDeployment in the request's Region: gone at once; its ARN no longer answers. */
  deleteDeployment(identifier: string, region: string): ControlError | undefined {
    const d = this.#findDeployment(identifier, region);
    if (d === undefined) return controlError("ResourceNotFoundException", `The custom model deployment ${identifier} was not found.`);
    clearTimeout(d.timer);
    this.#deployments.delete(d.id);
    return undefined;
  }

  /** DeleteProvisionedModelThroughput in the request's Region: refused before a commitment term ends ("Purchase a Provisioned Throughput"). */
  deleteProvisioned(identifier: string, region: string): ControlError | undefined {
    const p = this.#findProvisioned(identifier, region);
    if (p === undefined) return controlError("ResourceNotFoundException", `The Provisioned Throughput ${identifier} was not found.`);
    if (p.commitment !== undefined && (p.commitmentEndsAt === undefined || this.#deps.now() < p.commitmentEndsAt)) {
      return controlError("ValidationException", `The Provisioned Throughput ${identifier} has a ${p.commitment} commitment and can't be deleted before its term ends.`);
    }
    clearTimeout(p.timer);
    this.#provisioned.delete(p.id);
    return undefined;
  }

  /**
   * What Converse answers for this model id: undefined when it is no deployment or provisioned model
   * ARN; the refusal when it names none that exists, one in another Region, or one that does not
   * serve yet; else the custom model's rules and error model.
   */
  invocationTarget(modelId: string, region: string): InvocationTarget | AwsError | undefined {
    const isDeployment = /^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:[0-9]{12}:custom-model-deployment\/[a-z0-9]+$/.test(modelId);
    const isProvisioned = /^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:[0-9]{12}:provisioned-model\/[a-z0-9]+$/.test(modelId);
    if (!isDeployment && !isProvisioned) return undefined;
    const served: Deployment | Provisioned | undefined = isDeployment ? this.#findDeployment(modelId, region) : this.#findProvisioned(modelId, region);
    if (served === undefined) return awsError("ValidationException", "The provided model identifier is invalid.");
    const ready = served.kind === "deployment" ? served.status === "Active" : served.status === "InService";
    if (!ready) {
      const what = served.kind === "deployment" ? "custom model deployment" : "Provisioned Throughput";
      return awsError("ValidationException", `The ${what} ${modelId} is ${served.status} and can't serve inference yet. Try again when it is ${served.kind === "deployment" ? "Active" : "InService"}.`);
    }
    const model = customModelRules(served.model.baseModelIdentifier);
    if (model === undefined) return awsError("ValidationException", `The Bedrock emulator has no rules for the base model ${bareBaseId(served.model.baseModelIdentifier)}.`);
    return { model, labelErrors: served.model.labelErrors };
  }

  /** Stops every timer; deployments stay as they are. */
  close(): void {
    this.#closed = true;
    for (const d of this.#deployments.values()) clearTimeout(d.timer);
    for (const p of this.#provisioned.values()) clearTimeout(p.timer);
  }

  #repeated(token: string | undefined, region: string, fingerprint: string, operation: string): { arn?: string } | ControlError | undefined {
    const answer = repeatedTokenAnswer(this.#byToken, token === undefined ? undefined : tokenKey(region, token), fingerprint, operation, this.#deps.settings().repeatTokenAnswer);
    if (answer === undefined || "error" in answer) return answer;
    return answer.jobArn === undefined ? {} : { arn: answer.jobArn };
  }

  /**
   * Model unit quotas ("Increase model invocation capacity with Provisioned Throughput", prov-throughput):
   * a custom model's no-commitment Provisioned Throughput gets one model unit, and an account at most
   * two of them; committed throughput draws on model units AWS grants on request (default 0). Counted
   * per Region, as service quotas are ‡.
   */
  #refuseUnits(request: CreateProvisionedRequest, region: string): ControlError | undefined {
    const all = inRegion(this.#provisioned, region);
    if (request.commitmentDuration === undefined) {
      if (request.modelUnits > NO_COMMIT_UNITS) {
        return controlError("ServiceQuotaExceededException", `A Provisioned Throughput with no commitment takes at most ${NO_COMMIT_UNITS} model unit; the request asks for ${request.modelUnits}.`);
      }
      if (all.filter((p) => p.commitment === undefined).length >= NO_COMMIT_PER_ACCOUNT) {
        return controlError("ServiceQuotaExceededException", `Your account already has ${NO_COMMIT_PER_ACCOUNT} Provisioned Throughputs with no commitment, the most it may have.`);
      }
      return undefined;
    }
    const granted = this.#deps.settings().provisionedModelUnits;
    const inUse = all.filter((p) => p.commitment !== undefined).reduce((sum, p) => sum + p.modelUnits, 0);
    if (inUse + request.modelUnits > granted) {
      return controlError(
        "ServiceQuotaExceededException",
        `The request needs ${request.modelUnits} model units; your account has ${granted - inUse} of ${granted} left for Provisioned Throughput with commitment. Request more model units through AWS Support.`,
      );
    }
    return undefined;
  }

  #customModel(arn: string, region: string): CustomModel | ControlError {
    const model = this.#deps.customModel(arn);
    // A model still training has no ARN yet here; one of another Region is not found in this one.
    if (model === undefined || model.region !== region) return controlError("ResourceNotFoundException", `The custom model ${arn} was not found or is not Active.`);
    return model;
  }

  /** The deployment of this Region with this ARN or name: one of another Region is not found here. */
  #findDeployment(identifier: string, region: string): Deployment | undefined {
    return inRegion(this.#deployments, region).find((d) => d.arn === identifier || d.name === identifier);
  }

  /** The Provisioned Throughput of this Region with this ARN or name. */
  #findProvisioned(identifier: string, region: string): Provisioned | undefined {
    return inRegion(this.#provisioned, region).find((p) => p.arn === identifier || p.name === identifier);
  }

  /** Counts down the steps to ready, then runs `ready`. */
  #advance(served: Served, ready: () => void): void {
    if (this.#closed) return;
    served.timer = setTimeout(() => {
      served.timer = undefined;
      served.stepsLeft -= 1;
      if (served.stepsLeft > 0) {
        this.#advance(served, ready);
        return;
      }
      ready();
      served.lastUpdatedAt = this.#deps.now();
    }, this.#deps.settings().stepMs);
  }
}

function inRegion<T extends Served>(all: ReadonlyMap<string, T>, region: string): T[] {
  return [...all.values()].filter((x) => x.region === region);
}

/** A clientRequestToken is remembered per Region (each Region's control plane is its own endpoint ‡). */
function tokenKey(region: string, token: string): string {
  return `${region}\u0000${token}`;
}

function page<T extends Served & { status: string }>(
  all: T[],
  query: ListDeploymentsQuery,
  shape: (item: T) => Record<string, unknown>,
): { summaries: Record<string, unknown>[]; nextToken: string | undefined } | ControlError {
  const matching = all
    .filter((x) => query.statusEquals === undefined || x.status === query.statusEquals)
    .filter((x) => query.nameContains === undefined || x.name.includes(query.nameContains))
    .sort((a, b) => b.createdAt - a.createdAt || b.seq - a.seq);
  let offset = 0;
  if (query.nextToken !== undefined) {
    offset = Number(Buffer.from(query.nextToken, "base64url").toString("utf8"));
    if (!Number.isInteger(offset) || offset < 0) return controlError("ValidationException", "The nextToken is not valid.");
  }
  const items = matching.slice(offset, offset + query.maxResults);
  const next = offset + items.length;
  return { summaries: items.map(shape), nextToken: next < matching.length ? Buffer.from(String(next)).toString("base64url") : undefined };
}

function deploymentDetail(d: Deployment): Record<string, unknown> {
  return {
    customModelDeploymentArn: d.arn,
    modelDeploymentName: d.name,
    modelArn: d.model.arn,
    createdAt: iso(d.createdAt),
    status: d.status,
    ...(d.description === undefined ? {} : { description: d.description }),
    lastUpdatedAt: iso(d.lastUpdatedAt),
  };
}

function deploymentSummary(d: Deployment): Record<string, unknown> {
  return { customModelDeploymentArn: d.arn, customModelDeploymentName: d.name, modelArn: d.model.arn, createdAt: iso(d.createdAt), status: d.status, lastUpdatedAt: iso(d.lastUpdatedAt) };
}

function provisionedDetail(p: Provisioned): Record<string, unknown> {
  return {
    provisionedModelName: p.name,
    provisionedModelArn: p.arn,
    modelArn: p.model.arn,
    desiredModelArn: p.model.arn,
    foundationModelArn: `arn:aws:bedrock:${p.region}::foundation-model/${p.model.baseModelIdentifier}`,
    modelUnits: p.modelUnits,
    desiredModelUnits: p.modelUnits,
    status: p.status,
    ...(p.commitment === undefined ? {} : { commitmentDuration: p.commitment }),
    ...(p.commitmentEndsAt === undefined ? {} : { commitmentExpirationTime: iso(p.commitmentEndsAt) }),
    creationTime: iso(p.createdAt),
    lastModifiedTime: iso(p.lastUpdatedAt),
  };
}
