import { z } from "zod";
import type { LabelqStackProps } from "./labelq-stack.ts";

const count = (max: number) => z.coerce.number().int().min(0).max(max);
const positive = z.coerce.number().positive();

/**
 * The stack's settings as CDK context (cdk.json, or `-c key=value`), validated once; every
 * message names the context key. Values passed with -c arrive as strings, hence coerce.
 */
const contextSchema = z.object({
  stackName: z.string().min(1).default("Labelq"),
  account: z.string().regex(/^\d{12}$/, "expected a 12-digit account id").optional(),
  region: z.string().min(1).optional(),
  prefix: z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/, "expected letters, digits, - or _").default("labelq"),
  fifo: z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]).default(false),
  compute: z.enum(["ecs", "lambda"]).default("ecs"),
  redisUrl: z.string().regex(/^rediss?:\/\//, "expected a redis:// or rediss:// URL").optional(),
  quotaRpm: count(1_000_000),
  quotaTpm: count(1_000_000_000),
  callsPerBatch: positive,
  tokensPerBatch: positive,
  secondsPerBatch: positive,
  acceptableLatencyS: positive,
  concurrency: count(1_000).optional(),
  minTasks: count(1_000).optional(),
  maxTasksCeiling: count(1_000).optional(),
  lambdaTimeoutS: z.coerce.number().int().min(1).max(900).optional(),
  lambdaBatchSize: z.coerce.number().int().min(1).max(10).optional(),
  alarmEmail: z.string().email().optional(),
  defaultModel: z.string().min(1).optional(),
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
      batch: { callsPerBatch: c.callsPerBatch, tokensPerBatch: c.tokensPerBatch, secondsPerBatch: c.secondsPerBatch },
      acceptableLatencyS: c.acceptableLatencyS,
      concurrency: c.concurrency,
      minTasks: c.minTasks,
      maxTasksCeiling: c.maxTasksCeiling,
      lambda: { timeoutS: c.lambdaTimeoutS, batchSize: c.lambdaBatchSize },
      alarmEmail: c.alarmEmail,
      environment: c.defaultModel ? { LABELQ_DEFAULT_MODEL: c.defaultModel } : undefined,
    },
  };
}
