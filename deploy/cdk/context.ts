import { z } from "zod";
import { RESIDENCIES } from "../../src/core/config/config.ts";
import { GEOGRAPHIES } from "../../src/core/models/model-catalogue.ts";
import { MIN_BULK_RETENTION_DAYS } from "./bulk-storage.ts";
import type { KmsSetting } from "./data-key.ts";
import type { LabelqStackProps } from "./labelq-stack.ts";

const count = (max: number) => z.coerce.number().int().min(0).max(max);
const positive = z.coerce.number().positive();
const flag = z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]);
/** Model aliases as the worker's LABELQ_*_MODELS take them: comma-separated. */
const aliases = z.string().regex(/^[a-z0-9][a-z0-9.,-]*$/, "expected model aliases separated by commas");

/**
 * The stack's settings as CDK context (cdk.json, or `-c key=value`), validated once; every
 * message names the context key. Values passed with -c arrive as strings, hence coerce.
 */
const contextSchema = z.object({
  stackName: z.string().min(1).default("Labelq"),
  account: z.string().regex(/^\d{12}$/, "expected a 12-digit account id").optional(),
  region: z.string().min(1).optional(),
  prefix: z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/, "expected letters, digits, - or _").default("labelq"),
  fifo: flag.default(false),
  compute: z.enum(["ecs", "lambda"]).default("ecs"),
  redisUrl: z.string().regex(/^rediss?:\/\//, "expected a redis:// or rediss:// URL").optional(),
  quotaRpm: count(1_000_000),
  quotaTpm: count(1_000_000_000),
  callsPerBatch: positive,
  tokensPerBatch: positive,
  outputTokensPerBatch: z.coerce.number().min(0).optional(),
  reservedTokensPerBatch: positive.optional(),
  quotaShare: z.coerce.number().gt(0).max(1).optional(),
  secondsPerBatch: positive,
  acceptableLatencyS: positive,
  concurrency: count(1_000).optional(),
  minTasks: count(1_000).optional(),
  maxTasksCeiling: count(1_000).optional(),
  lambdaTimeoutS: z.coerce.number().int().min(1).max(900).optional(),
  lambdaBatchSize: z.coerce.number().int().min(1).max(10).optional(),
  alarmEmail: z.string().email().optional(),
  defaultModel: z.string().min(1).optional(),
  fallbackModels: aliases.optional(),
  allowedModels: aliases.optional(),
  residency: z.enum(RESIDENCIES).default("geography"),
  modelGeography: z.enum(GEOGRAPHIES).optional(),
  kms: z
    .string()
    .regex(/^(create|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+)$/, 'expected "create" or a KMS key ARN')
    .transform((v) => v as KmsSetting)
    .optional(),
  bulk: flag.default(false),
  bulkRetentionDays: z.coerce.number().int().min(MIN_BULK_RETENTION_DAYS).max(3_650).optional(),
});

export type LabelqContext = z.output<typeof contextSchema>;

/** Read and validate the context keys the stack uses; throws one error naming every bad key. */
export function stackPropsFromContext(get: (key: string) => unknown): { stackName: string; props: LabelqStackProps } {
  const raw = Object.fromEntries(Object.keys(contextSchema.shape).flatMap((k) => (get(k) === undefined ? [] : [[k, get(k)]])));
  const parsed = contextSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`invalid CDK context:\n  - ${parsed.error.issues.map((i) => `${i.path.join(".")}=${JSON.stringify(raw[String(i.path[0])])}: ${i.message}`).join("\n  - ")}`);
  }
  const c = parsed.data;
  return {
    stackName: c.stackName,
    props: {
      env: c.account || c.region ? { account: c.account, region: c.region } : undefined,
      prefix: c.prefix,
      fifo: c.fifo,
      compute: c.compute,
      redisUrl: c.redisUrl,
      quota: { rpm: c.quotaRpm, tpm: c.quotaTpm },
      quotaShare: c.quotaShare,
      batch: {
        callsPerBatch: c.callsPerBatch,
        tokensPerBatch: c.tokensPerBatch,
        secondsPerBatch: c.secondsPerBatch,
        outputTokensPerBatch: c.outputTokensPerBatch,
        reservedTokensPerBatch: c.reservedTokensPerBatch,
      },
      acceptableLatencyS: c.acceptableLatencyS,
      concurrency: c.concurrency,
      minTasks: c.minTasks,
      maxTasksCeiling: c.maxTasksCeiling,
      lambda: { timeoutS: c.lambdaTimeoutS, batchSize: c.lambdaBatchSize },
      alarmEmail: c.alarmEmail,
      environment: modelEnvironment(c),
      residency: c.residency,
      modelGeography: c.modelGeography,
      kms: c.kms,
      bulk: c.bulk ? { retentionDays: c.bulkRetentionDays } : undefined,
    },
  };
}

/** The worker's model settings the context sets, or undefined when it sets none. */
function modelEnvironment(c: LabelqContext): Record<string, string> | undefined {
  const env = Object.fromEntries(
    [
      ["LABELQ_DEFAULT_MODEL", c.defaultModel],
      ["LABELQ_FALLBACK_MODELS", c.fallbackModels],
      ["LABELQ_ALLOWED_MODELS", c.allowedModels],
    ].filter((e): e is [string, string] => e[1] !== undefined),
  );
  return Object.keys(env).length > 0 ? env : undefined;
}
