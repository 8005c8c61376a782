// The least-privilege policies of the worker's role and of the service role Bedrock assumes for
// bulk jobs, written once here for every way of deploying labelq: the CDK stack builds its roles
// from them, and deploy/iam/*.json are their documented form for the default settings (residency
// geography, US profiles, labelq's default models and table names), regenerated with
// `node deploy/cdk/worker-policy.ts --write` and held equal to this code by a test.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULTS, loadConfig } from "../../src/core/config/config.ts";
import { GEOGRAPHIES, type Geography, type Residency } from "../../src/core/models/model-catalogue.ts";
import { RESIDENCIES } from "../../src/core/config/config.ts";
import { BULK_GROUP_INDEX } from "../../src/adapters/dynamodb/create-tables.ts";
import { batchModels, type BedrockGrants, bedrockGrants, workerModels } from "./bedrock-grants.ts";

const IAM_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../iam");
/** The worker's policy for the default settings. */
export const WORKER_POLICY_FILE = path.join(IAM_DIR, "worker-policy.json");
/** The bulk service role's policy for the default settings. */
export const BATCH_ROLE_POLICY_FILE = path.join(IAM_DIR, "bedrock-batch-role-policy.json");
/** The bulk service role's trust policy (no setting changes it). */
export const BATCH_ROLE_TRUST_FILE = path.join(IAM_DIR, "bedrock-batch-role-trust.json");

export interface PolicyJson {
  Version: string;
  Statement: Record<string, unknown>[];
}

/** The folder under the bulk prefix that job input and output go to (src/app/bulk/assemble-jobs.ts: `${prefix}jobs/${jobKey}/input/` and `.../output/`). */
export const BULK_JOBS_FOLDER = "jobs/";

/** What the bulk path adds to the worker's role. */
export interface BulkGrants {
  bucketArn: string;
  /** LABELQ_BULK_PREFIX: every object the bulk path reads or writes is under it. */
  objectPrefix: string;
  tableArn: string;
  batchRoleArn: string;
  /** What a job may run: the batch models' ARNs. */
  models: BedrockGrants;
}

export interface WorkerPolicyOptions {
  region: string;
  account: string;
  /** Queue name prefix ("labelq"); FIFO queues end in .fifo. */
  prefix: string;
  fifo: boolean;
  /** The tables the worker reads and writes items in: label cache, batch records (and the bulk table). */
  tableArns: string[];
  bedrock: BedrockGrants;
  bulk?: BulkGrants;
  /** The customer-managed key the queues, tables and bucket are encrypted with. */
  kmsKeyArn?: string;
}

/** IAM's own form: a single value as a string, several as a list. */
const oneOrMany = (list: readonly string[]): string | string[] => (list.length === 1 ? list[0]! : [...list]);

/** The statements that let a role invoke `grants`: models in its Region directly, the rest only through the profiles. */
function invokeStatements(grants: BedrockGrants): Record<string, unknown>[] {
  const statements: Record<string, unknown>[] = [];
  if (grants.inRegionModels.length > 0) {
    statements.push({ Sid: "InvokeOnDemandModels", Effect: "Allow", Action: "bedrock:InvokeModel", Resource: oneOrMany(grants.inRegionModels) });
  }
  if (grants.profiles.length > 0) {
    statements.push(
      { Sid: "InvokeInferenceProfiles", Effect: "Allow", Action: "bedrock:InvokeModel", Resource: oneOrMany(grants.profiles) },
      {
        Sid: "InvokeProfileModelsOnlyThroughProfiles",
        Effect: "Allow",
        Action: "bedrock:InvokeModel",
        Resource: oneOrMany(grants.profileModels),
        Condition: { StringEquals: { "bedrock:InferenceProfileArn": oneOrMany(grants.profiles) } },
      },
    );
  }
  return statements;
}

/** Every ARN of `grants`, for actions that name the model as a resource (CreateModelInvocationJob, a job's own InvokeModel). */
const allModelArns = (grants: BedrockGrants) => [...grants.inRegionModels, ...grants.profiles, ...grants.profileModels];

/**
 * The worker's policy: receive from the requests queue, send to the results queues (and the DLQ,
 * and back to requests), invoke the models its settings allow under its residency, item reads and
 * writes on the named tables, and, with `bulk`, batch jobs on the bulk bucket and table.
 * (Converse is authorized by bedrock:InvokeModel; the worker does not stream.)
 */
export function workerPolicy(o: WorkerPolicyOptions): PolicyJson {
  const fifo = o.fifo ? ".fifo" : "";
  const queue = (name: string) => `arn:aws:sqs:${o.region}:${o.account}:${o.prefix}-${name}`;
  const statements: Record<string, unknown>[] = [
    {
      Sid: "ConsumeRequests",
      Effect: "Allow",
      Action: ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],
      Resource: queue(`requests${fifo}`),
    },
    {
      Sid: "PublishResultsAndDeadLetters",
      Effect: "Allow",
      Action: ["sqs:SendMessage", "sqs:GetQueueAttributes"],
      // results* also covers the per-producer replyTo queues (LABELQ_REPLY_TO_ALLOWLIST) and results.fifo.
      Resource: [queue("results*"), queue(`dlq${fifo}`), queue(`requests${fifo}`)],
    },
    ...invokeStatements(o.bedrock),
    {
      Sid: "CacheAndIdempotencyTables",
      Effect: "Allow",
      Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"],
      Resource: oneOrMany(o.tableArns),
    },
  ];
  if (o.bulk) statements.push(...workerBulkStatements(o.bulk, o));
  if (o.kmsKeyArn) {
    statements.push({ Sid: "UseDataKey", Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: o.kmsKeyArn });
  }
  return { Version: "2012-10-17", Statement: statements };
}

function workerBulkStatements(bulk: BulkGrants, o: { region: string; account: string }): Record<string, unknown>[] {
  return [
    {
      Sid: "BulkJobs",
      Effect: "Allow",
      Action: ["bedrock:CreateModelInvocationJob", "bedrock:GetModelInvocationJob", "bedrock:StopModelInvocationJob"],
      Resource: [`arn:aws:bedrock:${o.region}:${o.account}:model-invocation-job/*`, ...allModelArns(bulk.models)],
    },
    {
      // Finds a job by its name after a crash between CreateModelInvocationJob and the job record
      // (a repeated clientRequestToken is documented to return no error, not the job's ARN). The
      // Service Authorization Reference gives ListModelInvocationJobs no resource type: only "*".
      Sid: "FindBulkJobsByName",
      Effect: "Allow",
      Action: "bedrock:ListModelInvocationJobs",
      Resource: "*",
    },
    {
      Sid: "PassBatchRoleToBedrockOnly",
      Effect: "Allow",
      Action: "iam:PassRole",
      Resource: bulk.batchRoleArn,
      Condition: { StringEquals: { "iam:PassedToService": "bedrock.amazonaws.com" } },
    },
    { Sid: "BulkBucketObjects", Effect: "Allow", Action: ["s3:PutObject", "s3:GetObject"], Resource: `${bulk.bucketArn}/${bulk.objectPrefix}*` },
    { Sid: "BulkBucketList", Effect: "Allow", Action: "s3:ListBucket", Resource: bulk.bucketArn, Condition: { StringLike: { "s3:prefix": `${bulk.objectPrefix}*` } } },
    { Sid: "BulkTableQueries", Effect: "Allow", Action: "dynamodb:Query", Resource: [bulk.tableArn, `${bulk.tableArn}/index/${BULK_GROUP_INDEX}`] },
  ];
}

/** The service role Bedrock assumes to run a bulk job: read its input and write its output under the jobs folder, invoke its model. */
export function batchRolePolicy(o: { bucketArn: string; objectPrefix: string; models: BedrockGrants; kmsKeyArn?: string }): PolicyJson {
  const jobs = `${o.objectPrefix}${BULK_JOBS_FOLDER}`;
  const statements: Record<string, unknown>[] = [
    { Sid: "ReadJobInput", Effect: "Allow", Action: ["s3:GetObject"], Resource: `${o.bucketArn}/${jobs}*` },
    { Sid: "WriteJobOutput", Effect: "Allow", Action: ["s3:PutObject"], Resource: `${o.bucketArn}/${jobs}*` },
    { Sid: "ListJobFolders", Effect: "Allow", Action: ["s3:ListBucket"], Resource: o.bucketArn, Condition: { StringLike: { "s3:prefix": `${jobs}*` } } },
    { Sid: "InvokeBatchModels", Effect: "Allow", Action: ["bedrock:InvokeModel"], Resource: allModelArns(o.models) },
  ];
  if (o.kmsKeyArn) {
    // Reads the input, and writes the output, of a bucket encrypted with the key.
    statements.push({ Sid: "UseBucketKey", Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: o.kmsKeyArn });
  }
  return { Version: "2012-10-17", Statement: statements };
}

/** Settings a documented policy is written for; the defaults are labelq's (geography, US profiles, default models). */
export interface DocumentedSettings {
  residency?: Residency;
  geography?: Geography;
  /** LABELQ_DEFAULT_MODEL, LABELQ_FALLBACK_MODELS, ... as the worker gets them. */
  environment?: Record<string, string>;
}

/**
 * deploy/iam's worker and bulk service-role policies, with the placeholders REGION and ACCOUNT_ID,
 * labelq's default table, bucket and role names, the bulk path included.
 */
export function documentedPolicies(settings: DocumentedSettings = {}): { worker: PolicyJson; batchRole: PolicyJson } {
  const at = { region: "REGION", account: "ACCOUNT_ID" };
  const models = workerModels({ region: "REGION", geography: settings.geography ?? "us", residency: settings.residency ?? "geography", environment: settings.environment });
  const table = (name: string) => `arn:aws:dynamodb:${at.region}:${at.account}:table/${name}`;
  const bucketArn = "arn:aws:s3:::labelq-bulk-ACCOUNT_ID";
  const objectPrefix = loadConfig({}).bulk.prefix;
  const batch = bedrockGrants(batchModels(models), at);
  return {
    worker: workerPolicy({
      ...at,
      prefix: "labelq",
      fifo: false,
      tableArns: [table(DEFAULTS.tables.cacheTable), table(DEFAULTS.tables.batchesTable), table(DEFAULTS.tables.bulkTable)],
      bedrock: bedrockGrants(models, at),
      bulk: { bucketArn, objectPrefix, tableArn: table(DEFAULTS.tables.bulkTable), batchRoleArn: "arn:aws:iam::ACCOUNT_ID:role/labelq-bedrock-batch", models: batch },
    }),
    batchRole: batchRolePolicy({ bucketArn, objectPrefix, models: batch }),
  };
}

/** A policy as deploy/iam writes it. */
export const policyText = (policy: PolicyJson): string => `${JSON.stringify(policy, null, 2)}\n`;

/**
 * `node deploy/cdk/worker-policy.ts [--residency R] [--geography G] [--default-model M] [--fallback-models a,b] [--allowed-models a,b] [--batch-role]`
 * prints the worker's policy (or, with --batch-role, the bulk service role's) for those settings,
 * as deploy/iam writes it; `--write` rewrites deploy/iam's documented files (the defaults).
 */
function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      write: { type: "boolean", default: false },
      "batch-role": { type: "boolean", default: false },
      residency: { type: "string" },
      geography: { type: "string" },
      "default-model": { type: "string" },
      "fallback-models": { type: "string" },
      "allowed-models": { type: "string" },
    },
  });
  if (values.write) {
    const { worker, batchRole } = documentedPolicies();
    writeFileSync(WORKER_POLICY_FILE, policyText(worker));
    writeFileSync(BATCH_ROLE_POLICY_FILE, policyText(batchRole));
    return 0;
  }
  const oneOf = <T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined => {
    if (value === undefined || (allowed as readonly string[]).includes(value)) return value as T | undefined;
    throw new Error(`--${name}=${value}: expected one of ${allowed.join(", ")}`);
  };
  const environment = Object.fromEntries(
    [
      ["LABELQ_DEFAULT_MODEL", values["default-model"]],
      ["LABELQ_FALLBACK_MODELS", values["fallback-models"]],
      ["LABELQ_ALLOWED_MODELS", values["allowed-models"]],
    ].filter((e): e is [string, string] => e[1] !== undefined),
  );
  try {
    const policies = documentedPolicies({ residency: oneOf("residency", values.residency, RESIDENCIES), geography: oneOf("geography", values.geography, GEOGRAPHIES), environment });
    process.stdout.write(policyText(values["batch-role"] ? policies.batchRole : policies.worker));
    return 0;
  } catch (error) {
    process.stderr.write(`labelq: ${(error as Error).message}\n`);
    return 1;
  }
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
