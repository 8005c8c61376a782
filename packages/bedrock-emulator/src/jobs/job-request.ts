import { JOB_STATUSES, type JobStatus } from "./job-types.ts";
import { controlError, validationError, type ConstraintFailure, type ControlError } from "./control-plane-errors.ts";

// Constraints as the Bedrock service model (botocore bedrock/2023-04-20 service-2.json) declares
// them; the service matches a pattern against the whole value.
const JOB_NAME = /^[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9+\-.]){0,63}$/;
const ROLE_ARN = /^arn:aws(-[^:]+)?:iam::([0-9]{12})?:role\/.+$/;
const IDEMPOTENCY_TOKEN = /^[a-zA-Z0-9]{1,256}(-*[a-zA-Z0-9]){0,256}$/;
const S3_URI = /^s3:\/\/[a-z0-9][-.a-z0-9]{1,61}(?:\/[-!_*'().a-z0-9A-Z]+(?:\/[-!_*'().a-z0-9A-Z]+)*)?\/?$/;
const MODEL_ID =
  /^((arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:(([0-9]{12}:custom-model\/[a-z0-9-]{1,63}[.]{1}[a-z0-9-:]{1,63}\/[a-z0-9]{12})|(:foundation-model\/[a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63})))|([a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2})|(([0-9a-zA-Z][_-]?)+))$/;
/** A job's ARN or its 12-character id (ModelInvocationJobIdentifier). */
const JOB_IDENTIFIER = /^((arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:model-invocation-job\/)?([a-z0-9]{12}))$/;

export const TIMEOUT_HOURS = { min: 24, max: 168 } as const;
/** Default timeoutDurationInHours when the request sets none (24 h, the shortest; the service's default is not documented). */
export const DEFAULT_TIMEOUT_HOURS = 24;

export type InvocationType = "Converse" | "InvokeModel";

/** An S3 location: a bucket and a key or key prefix (without a leading slash). */
export interface S3Location {
  uri: string;
  bucket: string;
  key: string;
}

export interface CreateJobRequest {
  jobName: string;
  roleArn: string;
  modelId: string;
  clientRequestToken: string | undefined;
  input: S3Location;
  output: S3Location;
  /** The configs as sent, echoed by GetModelInvocationJob. */
  inputDataConfig: Record<string, unknown>;
  outputDataConfig: Record<string, unknown>;
  timeoutDurationInHours: number;
  /** As sent; undefined is the service's default, InvokeModel. */
  modelInvocationType: InvocationType | undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Splits s3://bucket/key/prefix into its bucket and key. */
export function parseS3Uri(uri: string): S3Location {
  const rest = uri.slice("s3://".length);
  const slash = rest.indexOf("/");
  return slash < 0 ? { uri, bucket: rest, key: "" } : { uri, bucket: rest.slice(0, slash), key: rest.slice(slash + 1) };
}

function pattern(at: string, value: string, re: RegExp, source: string, length: { min: number; max: number }): ConstraintFailure[] {
  const failures: ConstraintFailure[] = [];
  if (value.length < length.min || value.length > length.max) {
    failures.push({ at, value, constraint: `Member must have length between ${length.min} and ${length.max}` });
  }
  if (!re.test(value)) failures.push({ at, value, constraint: `Member must satisfy regular expression pattern: ${source}` });
  return failures;
}

/**
 * Validates a CreateModelInvocationJob body as the service does before it creates anything:
 * required members, patterns and ranges. The model and the S3 content are checked later (the
 * model by the store, the content while the job is Validating).
 */
export function parseCreateJobBody(raw: string): CreateJobRequest | ControlError {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return controlError("ValidationException", "Malformed input request: the request body is not valid JSON.");
  }
  if (!isObject(body)) return controlError("ValidationException", "Malformed input request: the request body is not a JSON object.");
  const failures: ConstraintFailure[] = [];
  const str = (name: string): string | undefined => {
    const v = body[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") {
      failures.push({ at: name, value: v, constraint: "Member must be a string" });
      return undefined;
    }
    return v;
  };
  const required = (name: string, value: unknown) => {
    if (value === undefined) failures.push({ at: name, value: "null", constraint: "Member must not be null" });
  };

  const jobName = str("jobName");
  required("jobName", jobName);
  if (jobName !== undefined) failures.push(...pattern("jobName", jobName, JOB_NAME, "[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\\+\\-\\.]){0,63}", { min: 1, max: 63 }));
  const roleArn = str("roleArn");
  required("roleArn", roleArn);
  if (roleArn !== undefined) failures.push(...pattern("roleArn", roleArn, ROLE_ARN, "arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+", { min: 0, max: 2048 }));
  const modelId = str("modelId");
  required("modelId", modelId);
  if (modelId !== undefined) failures.push(...pattern("modelId", modelId, MODEL_ID, "(see ModelId in the API reference)", { min: 1, max: 2048 }));
  const token = str("clientRequestToken");
  if (token !== undefined) failures.push(...pattern("clientRequestToken", token, IDEMPOTENCY_TOKEN, "[a-zA-Z0-9]{1,256}(-*[a-zA-Z0-9]){0,256}", { min: 1, max: 256 }));

  const s3Config = (member: "inputDataConfig" | "outputDataConfig", inner: string): { config: Record<string, unknown>; location: S3Location } | undefined => {
    const config = body[member];
    if (config === undefined) {
      required(member, undefined);
      return undefined;
    }
    const s3 = isObject(config) ? config[inner] : undefined;
    const uri = isObject(s3) ? s3.s3Uri : undefined;
    if (!isObject(config) || !isObject(s3)) {
      failures.push({ at: `${member}.${inner}`, value: "null", constraint: "Member must not be null" });
      return undefined;
    }
    if (typeof uri !== "string") {
      failures.push({ at: `${member}.${inner}.s3Uri`, value: "null", constraint: "Member must not be null" });
      return undefined;
    }
    const before = failures.length;
    failures.push(...pattern(`${member}.${inner}.s3Uri`, uri, S3_URI, "s3://[a-z0-9][-.a-z0-9]{1,61}(?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?", { min: 1, max: 1024 }));
    if (inner === "s3InputDataConfig" && s3.s3InputFormat !== undefined && s3.s3InputFormat !== "JSONL") {
      failures.push({ at: `${member}.${inner}.s3InputFormat`, value: s3.s3InputFormat, constraint: "Member must satisfy enum value set: [JSONL]" });
    }
    return failures.length > before ? undefined : { config, location: parseS3Uri(uri) };
  };
  const input = s3Config("inputDataConfig", "s3InputDataConfig");
  const output = s3Config("outputDataConfig", "s3OutputDataConfig");

  let timeout = DEFAULT_TIMEOUT_HOURS;
  const rawTimeout = body.timeoutDurationInHours;
  if (rawTimeout !== undefined && rawTimeout !== null) {
    if (typeof rawTimeout !== "number" || !Number.isInteger(rawTimeout) || rawTimeout < TIMEOUT_HOURS.min || rawTimeout > TIMEOUT_HOURS.max) {
      failures.push({ at: "timeoutDurationInHours", value: rawTimeout, constraint: `Member must have value between ${TIMEOUT_HOURS.min} and ${TIMEOUT_HOURS.max}` });
    } else {
      timeout = rawTimeout;
    }
  }
  const invocationType = body.modelInvocationType;
  if (invocationType !== undefined && invocationType !== "Converse" && invocationType !== "InvokeModel") {
    failures.push({ at: "modelInvocationType", value: invocationType, constraint: "Member must satisfy enum value set: [InvokeModel, Converse]" });
  }

  if (failures.length > 0 || jobName === undefined || roleArn === undefined || modelId === undefined || input === undefined || output === undefined) {
    return validationError(failures);
  }
  return {
    jobName,
    roleArn,
    modelId,
    clientRequestToken: token,
    input: input.location,
    output: output.location,
    inputDataConfig: input.config,
    outputDataConfig: output.config,
    timeoutDurationInHours: timeout,
    modelInvocationType: invocationType as InvocationType | undefined,
  };
}

/** The job id in a jobIdentifier (an ARN or the id itself), or a ValidationException. */
export function parseJobIdentifier(raw: string): string | ControlError {
  const match = JOB_IDENTIFIER.exec(raw);
  if (match?.[4] === undefined) {
    return validationError([
      {
        at: "jobIdentifier",
        value: raw,
        constraint: "Member must satisfy regular expression pattern: ((arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:model-invocation-job/)?[a-z0-9]{12})",
      },
    ]);
  }
  return match[4];
}


export interface ListJobsQuery {
  statusEquals: JobStatus | undefined;
  nameContains: string | undefined;
  submitTimeAfter: number | undefined;
  submitTimeBefore: number | undefined;
  maxResults: number;
  nextToken: string | undefined;
  sortOrder: "Ascending" | "Descending";
}

/** Validates ListModelInvocationJobs' query string (maxResults 1..1000; sortBy only CreationTime). */
export function parseListQuery(params: URLSearchParams): ListJobsQuery | ControlError {
  const failures: ConstraintFailure[] = [];
  const status = params.get("statusEquals") ?? undefined;
  if (status !== undefined && !(JOB_STATUSES as readonly string[]).includes(status)) {
    failures.push({ at: "statusEquals", value: status, constraint: `Member must satisfy enum value set: [${JOB_STATUSES.join(", ")}]` });
  }
  const time = (name: string): number | undefined => {
    const v = params.get(name);
    if (v === null) return undefined;
    const t = Date.parse(v);
    if (Number.isNaN(t)) failures.push({ at: name, value: v, constraint: "Member must be a timestamp" });
    return t;
  };
  const submitTimeAfter = time("submitTimeAfter");
  const submitTimeBefore = time("submitTimeBefore");
  const rawMax = params.get("maxResults");
  const maxResults = rawMax === null ? 1000 : Number(rawMax);
  if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > 1000) {
    failures.push({ at: "maxResults", value: rawMax, constraint: "Member must have value between 1 and 1000" });
  }
  const sortBy = params.get("sortBy");
  if (sortBy !== null && sortBy !== "CreationTime") failures.push({ at: "sortBy", value: sortBy, constraint: "Member must satisfy enum value set: [CreationTime]" });
  const sortOrder = params.get("sortOrder") ?? "Descending";
  if (sortOrder !== "Ascending" && sortOrder !== "Descending") {
    failures.push({ at: "sortOrder", value: sortOrder, constraint: "Member must satisfy enum value set: [Ascending, Descending]" });
  }
  if (failures.length > 0) return validationError(failures);
  return {
    statusEquals: status as JobStatus | undefined,
    nameContains: params.get("nameContains") ?? undefined,
    submitTimeAfter,
    submitTimeBefore,
    maxResults,
    nextToken: params.get("nextToken") ?? undefined,
    sortOrder: sortOrder as "Ascending" | "Descending",
  };
}
