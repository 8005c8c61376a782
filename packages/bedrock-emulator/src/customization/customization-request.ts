import { validationError, type ConstraintFailure, type ControlError } from "../jobs/control-plane-errors.ts";
import { parseS3Uri, type S3Location } from "../jobs/job-request.ts";
import { checkString, isObject, parseBody } from "./request-fields.ts";
import type { CustomizationType } from "./customization-models.ts";

// Constraints as the Bedrock service model (botocore bedrock/2023-04-20 service-2.json) declares
// them for CreateModelCustomizationJob: jobName and customModelName 1-63 characters of
// [a-zA-Z0-9](-*[a-zA-Z0-9+\-.])*, a role ARN, an s3:// URI.
const NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9+\-.]){0,62}$/;
const ROLE_ARN = /^arn:aws(-[^:]+)?:iam::([0-9]{12})?:role\/.+$/;
const S3_URI = /^s3:\/\/[a-z0-9][-.a-z0-9]{1,61}(?:\/[-!_*'().a-z0-9A-Z]+(?:\/[-!_*'().a-z0-9A-Z]+)*)?\/?$/;
const TOKEN = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/;
const TYPES: readonly string[] = ["FINE_TUNING", "DISTILLATION"];

/** A CreateModelCustomizationJob request after validation. */
export interface CreateCustomizationRequest {
  jobName: string;
  customModelName: string;
  roleArn: string;
  baseModelIdentifier: string;
  customizationType: CustomizationType;
  clientRequestToken: string | undefined;
  training: S3Location;
  validation: S3Location[];
  output: S3Location;
  hyperParameters: Record<string, string>;
  teacherModelIdentifier: string | undefined;
  /** The configs as sent, echoed by GetModelCustomizationJob. */
  trainingDataConfig: Record<string, unknown>;
  validationDataConfig: Record<string, unknown> | undefined;
  outputDataConfig: Record<string, unknown>;
  customizationConfig: Record<string, unknown> | undefined;
}

/**
 * Parses and validates CreateModelCustomizationJob's body. FINE_TUNING and DISTILLATION only (the
 * types labelq uses; CONTINUED_PRE_TRAINING and reinforcement fine-tuning are not emulated).
 */
export function parseCreateCustomizationBody(raw: string): CreateCustomizationRequest | ControlError {
  const parsed = parseBody(raw);
  if (!("body" in parsed)) return parsed;
  const { body } = parsed;
  const failures: ConstraintFailure[] = [];
  const jobName = checkString(failures, "jobName", body.jobName, NAME, 63);
  const customModelName = checkString(failures, "customModelName", body.customModelName, NAME, 63);
  const roleArn = checkString(failures, "roleArn", body.roleArn, ROLE_ARN, 2048);
  const baseModelIdentifier = checkString(failures, "baseModelIdentifier", body.baseModelIdentifier, /^.+$/, 2048);
  const token = body.clientRequestToken === undefined ? undefined : checkString(failures, "clientRequestToken", body.clientRequestToken, TOKEN, 256);
  const trainingDataConfig = isObject(body.trainingDataConfig) ? body.trainingDataConfig : {};
  const trainingUri = checkString(failures, "trainingDataConfig.s3Uri", trainingDataConfig.s3Uri, S3_URI, 1024);
  const outputDataConfig = isObject(body.outputDataConfig) ? body.outputDataConfig : {};
  const outputUri = checkString(failures, "outputDataConfig.s3Uri", outputDataConfig.s3Uri, S3_URI, 1024);
  const validationDataConfig = isObject(body.validationDataConfig) ? body.validationDataConfig : undefined;
  const validators = Array.isArray(validationDataConfig?.validators) ? (validationDataConfig.validators as unknown[]) : [];
  const validation = validators.map((v, i) => parseS3Uri(checkString(failures, `validationDataConfig.validators.${i + 1}.member.s3Uri`, isObject(v) ? v.s3Uri : undefined, S3_URI, 1024)));
  const type = body.customizationType ?? "FINE_TUNING";
  if (typeof type !== "string" || !TYPES.includes(type)) {
    failures.push({ at: "customizationType", value: type, constraint: `Member must satisfy enum value set: [${TYPES.join(", ")}] (the emulator runs these two only)` });
  }
  const hyperParameters: Record<string, string> = {};
  if (body.hyperParameters !== undefined) {
    if (!isObject(body.hyperParameters)) failures.push({ at: "hyperParameters", value: body.hyperParameters, constraint: "Member must be a map of strings" });
    else for (const [k, v] of Object.entries(body.hyperParameters)) {
      if (typeof v !== "string") failures.push({ at: `hyperParameters.${k}`, value: v, constraint: "Member must be a string" });
      else hyperParameters[k] = v;
    }
  }
  const customizationConfig = isObject(body.customizationConfig) ? body.customizationConfig : undefined;
  const distillation = isObject(customizationConfig?.distillationConfig) ? customizationConfig.distillationConfig : undefined;
  const teacherConfig = isObject(distillation?.teacherModelConfig) ? distillation.teacherModelConfig : undefined;
  const teacher = typeof teacherConfig?.teacherModelIdentifier === "string" ? teacherConfig.teacherModelIdentifier : undefined;
  if (failures.length > 0) return validationError(failures);
  return {
    jobName,
    customModelName,
    roleArn,
    baseModelIdentifier,
    customizationType: type as CustomizationType,
    clientRequestToken: token,
    training: parseS3Uri(trainingUri),
    validation,
    output: parseS3Uri(outputUri),
    hyperParameters,
    teacherModelIdentifier: teacher,
    trainingDataConfig,
    validationDataConfig,
    outputDataConfig,
    customizationConfig,
  };
}

/** ListModelCustomizationJobs' query. */
export interface ListCustomizationQuery {
  nameContains: string | undefined;
  statusEquals: string | undefined;
  maxResults: number;
  nextToken: string | undefined;
  sortOrder: "Ascending" | "Descending";
}

/** Parses ListModelCustomizationJobs' query string (maxResults 1..1000 as the service model bounds it; default 1000 here, as for the invocation jobs). */
export function parseListCustomizationQuery(params: URLSearchParams): ListCustomizationQuery | ControlError {
  const max = params.get("maxResults");
  const maxResults = max === null ? 1000 : Number(max);
  if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > 1000) {
    return validationError([{ at: "maxResults", value: max, constraint: "Member must have value between 1 and 1000" }]);
  }
  const sortOrder = params.get("sortOrder") ?? "Descending";
  if (sortOrder !== "Ascending" && sortOrder !== "Descending") return validationError([{ at: "sortOrder", value: sortOrder, constraint: "Member must satisfy enum value set: [Ascending, Descending]" }]);
  return {
    nameContains: params.get("nameContains") ?? undefined,
    statusEquals: params.get("statusEquals") ?? undefined,
    maxResults,
    nextToken: params.get("nextToken") ?? undefined,
    sortOrder,
  };
}
