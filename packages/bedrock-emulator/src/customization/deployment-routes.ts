import type { AwsError } from "../aws-errors.ts";
import type { EmulatorResponse } from "../converse-handler.ts";
import { controlError, controlErrorResponse, isControlError, jsonResponse } from "../jobs/control-plane-errors.ts";
import { parseCreateDeploymentBody, parseCreateProvisionedBody, parseListDeploymentsQuery } from "./deployment-request.ts";
import { DeploymentStore, type DeploymentStoreDeps } from "./deployment-store.ts";
import type { InvocationTarget } from "./invocation-target.ts";

// The REST paths of @aws-sdk/client-bedrock's service model: CreateCustomModelDeployment
// POST /model-customization/custom-model-deployments (202), Get / Delete
// /model-customization/custom-model-deployments/{customModelDeploymentIdentifier};
// CreateProvisionedModelThroughput POST /provisioned-model-throughput (201), Get / Delete
// /provisioned-model-throughput/{provisionedModelId}, ListProvisionedModelThroughputs
// GET /provisioned-model-throughputs.
const DEPLOYMENTS_PATH = "/model-customization/custom-model-deployments";
const DEPLOYMENT_PATH = /^\/model-customization\/custom-model-deployments\/([^/]+)$/;
const PROVISIONED_CREATE_PATH = "/provisioned-model-throughput";
const PROVISIONED_LIST_PATH = "/provisioned-model-throughputs";
const PROVISIONED_PATH = /^\/provisioned-model-throughput\/([^/]+)$/;

// One deployment store per emulator, keyed by the emulator's invocation job store, as the
// customization jobs are (customization-routes.ts).
const stores = new WeakMap<object, DeploymentStore>();

/** Creates the deployments and Provisioned Throughputs of the emulator that owns `owner`. */
export function registerDeployments(owner: object, deps: DeploymentStoreDeps): DeploymentStore {
  const store = new DeploymentStore(deps);
  stores.set(owner, store);
  return store;
}

/** Stops the timers of `owner`'s deployments. */
export function closeDeployments(owner: object): void {
  stores.get(owner)?.close();
}

/** The deployments of `owner`'s emulator (for tests), if registered. */
export function deploymentsOf(owner: object): DeploymentStore | undefined {
  return stores.get(owner);
}

/** What Converse answers for a deployment's or provisioned model's ARN (DeploymentStore.invocationTarget); undefined for other ids. */
export function invocationTarget(owner: object, modelId: string, region: string): InvocationTarget | AwsError | undefined {
  return stores.get(owner)?.invocationTarget(modelId, region);
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function listAnswer(listed: ReturnType<DeploymentStore["listDeployments"]>, key: string, requestId: string): EmulatorResponse {
  if (isControlError(listed)) return controlErrorResponse(listed, requestId);
  return jsonResponse(200, { [key]: listed.summaries, ...(listed.nextToken === undefined ? {} : { nextToken: listed.nextToken }) }, requestId);
}

/**
 * Answers the deployment and Provisioned Throughput operations in `region`, the Region the request was
 * signed for (request-identity.ts); undefined when the method and path are none of them.
 */
export function handleDeploymentRoute(owner: object, method: string, url: string, body: string, region: string, requestId: string): EmulatorResponse | undefined {
  const store = stores.get(owner);
  if (store === undefined) return undefined;
  const [path = url, query = ""] = url.split("?", 2);
  if (path === DEPLOYMENTS_PATH && method === "POST") {
    const request = parseCreateDeploymentBody(body);
    if (isControlError(request)) return controlErrorResponse(request, requestId);
    const created = store.createDeployment(request, region);
    return isControlError(created) ? controlErrorResponse(created, requestId) : jsonResponse(202, created, requestId);
  }
  if (path === PROVISIONED_CREATE_PATH && method === "POST") {
    const request = parseCreateProvisionedBody(body);
    if (isControlError(request)) return controlErrorResponse(request, requestId);
    const created = store.createProvisioned(request, region);
    return isControlError(created) ? controlErrorResponse(created, requestId) : jsonResponse(201, created, requestId);
  }
  if ((path === DEPLOYMENTS_PATH || path === PROVISIONED_LIST_PATH) && method === "GET") {
    const parsed = parseListDeploymentsQuery(new URLSearchParams(query));
    if (isControlError(parsed)) return controlErrorResponse(parsed, requestId);
    return path === DEPLOYMENTS_PATH
      ? listAnswer(store.listDeployments(parsed, region), "modelDeploymentSummaries", requestId)
      : listAnswer(store.listProvisioned(parsed, region), "provisionedModelSummaries", requestId);
  }
  const deployment = DEPLOYMENT_PATH.exec(path);
  if (deployment?.[1] !== undefined) {
    const id = decode(deployment[1]);
    if (method === "GET") {
      const found = store.getDeployment(id, region);
      return found === undefined ? controlErrorResponse(controlError("ResourceNotFoundException", `The custom model deployment ${id} was not found.`), requestId) : jsonResponse(200, found, requestId);
    }
    if (method === "DELETE") {
      const refused = store.deleteDeployment(id, region);
      return refused === undefined ? jsonResponse(200, {}, requestId) : controlErrorResponse(refused, requestId);
    }
    return undefined;
  }
  const provisioned = PROVISIONED_PATH.exec(path);
  if (provisioned?.[1] !== undefined) {
    const id = decode(provisioned[1]);
    if (method === "GET") {
      const found = store.getProvisioned(id, region);
      return found === undefined ? controlErrorResponse(controlError("ResourceNotFoundException", `The Provisioned Throughput ${id} was not found.`), requestId) : jsonResponse(200, found, requestId);
    }
    if (method === "DELETE") {
      const refused = store.deleteProvisioned(id, region);
      return refused === undefined ? jsonResponse(200, {}, requestId) : controlErrorResponse(refused, requestId);
    }
  }
  return undefined;
}
