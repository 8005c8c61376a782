import { validationError, type ConstraintFailure, type ControlError } from "../jobs/control-plane-errors.ts";
import { checkString, parseBody } from "./request-fields.ts";

// Constraints as the Bedrock API reference gives them: CreateCustomModelDeployment's
// modelDeploymentName ([0-9a-zA-Z][_-]?){1,63} and modelArn (a custom model ARN, at most 1011);
// clientRequestToken [a-zA-Z0-9](-*[a-zA-Z0-9])* (CreateCustomModelDeployment) and
// [a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])? (CreateProvisionedModelThroughput), both 1-256;
// provisionedModelName 1-63 characters (the pattern used here is the deployment name's ‡);
// modelUnits a positive integer; commitmentDuration OneMonth | SixMonths, absent for no commitment.
const DEPLOYMENT_NAME = /^([0-9a-zA-Z][_-]?){1,63}$/;
const TOKEN = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/;
const COMMITMENTS: readonly string[] = ["OneMonth", "SixMonths"];

/** A CreateCustomModelDeployment request after validation. */
export interface CreateDeploymentRequest {
  modelDeploymentName: string;
  modelArn: string;
  description: string | undefined;
  clientRequestToken: string | undefined;
}

/** A CreateProvisionedModelThroughput request after validation. */
export interface CreateProvisionedRequest {
  provisionedModelName: string;
  modelId: string;
  modelUnits: number;
  commitmentDuration: "OneMonth" | "SixMonths" | undefined;
  clientRequestToken: string | undefined;
}

/** Parses and validates CreateCustomModelDeployment's body. */
export function parseCreateDeploymentBody(raw: string): CreateDeploymentRequest | ControlError {
  const parsed = parseBody(raw);
  if (!("body" in parsed)) return parsed;
  const { body } = parsed;
  const failures: ConstraintFailure[] = [];
  const modelDeploymentName = checkString(failures, "modelDeploymentName", body.modelDeploymentName, DEPLOYMENT_NAME, 63);
  const modelArn = checkString(failures, "modelArn", body.modelArn, /^.+$/, 1011);
  const description = body.description === undefined ? undefined : checkString(failures, "description", body.description, /^[\s\S]+$/, 200);
  const token = body.clientRequestToken === undefined ? undefined : checkString(failures, "clientRequestToken", body.clientRequestToken, TOKEN, 256);
  if (failures.length > 0) return validationError(failures);
  return { modelDeploymentName, modelArn, description, clientRequestToken: token };
}

/** Parses and validates CreateProvisionedModelThroughput's body. */
export function parseCreateProvisionedBody(raw: string): CreateProvisionedRequest | ControlError {
  const parsed = parseBody(raw);
  if (!("body" in parsed)) return parsed;
  const { body } = parsed;
  const failures: ConstraintFailure[] = [];
  const provisionedModelName = checkString(failures, "provisionedModelName", body.provisionedModelName, DEPLOYMENT_NAME, 63);
  const modelId = checkString(failures, "modelId", body.modelId, /^.+$/, 2048);
  const units = body.modelUnits;
  if (typeof units !== "number" || !Number.isInteger(units) || units < 1) failures.push({ at: "modelUnits", value: units ?? "null", constraint: "Member must have value greater than or equal to 1" });
  const commitment = body.commitmentDuration;
  if (commitment !== undefined && (typeof commitment !== "string" || !COMMITMENTS.includes(commitment))) {
    failures.push({ at: "commitmentDuration", value: commitment, constraint: `Member must satisfy enum value set: [${COMMITMENTS.join(", ")}]` });
  }
  const token = body.clientRequestToken === undefined ? undefined : checkString(failures, "clientRequestToken", body.clientRequestToken, TOKEN, 256);
  if (failures.length > 0) return validationError(failures);
  return { provisionedModelName, modelId, modelUnits: units as number, commitmentDuration: commitment as CreateProvisionedRequest["commitmentDuration"], clientRequestToken: token };
}

/** The List operations' query both share: a name filter, a status filter, a page. */
export interface ListDeploymentsQuery {
  nameContains: string | undefined;
  statusEquals: string | undefined;
  maxResults: number;
  nextToken: string | undefined;
}

/** Parses ListCustomModelDeployments' / ListProvisionedModelThroughputs' query (maxResults 1..1000). */
export function parseListDeploymentsQuery(params: URLSearchParams): ListDeploymentsQuery | ControlError {
  const max = params.get("maxResults");
  const maxResults = max === null ? 1000 : Number(max);
  if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > 1000) {
    return validationError([{ at: "maxResults", value: max, constraint: "Member must have value between 1 and 1000" }]);
  }
  return { nameContains: params.get("nameContains") ?? undefined, statusEquals: params.get("statusEquals") ?? undefined, maxResults, nextToken: params.get("nextToken") ?? undefined };
}
