import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { DEFAULT_REQUEST_LIMITS } from "../contracts/request.ts";
import { ConfigError } from "../errors/errors.ts";

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

const csv = z
  .string()
  .transform((s) => s.split(",").map((x) => x.trim()).filter((x) => x.length > 0));
const int = (min: number, max: number) =>
  z.coerce.number({ message: `expected an integer from ${min} to ${max}` }).int(`expected an integer from ${min} to ${max}`).min(min, `expected an integer from ${min} to ${max}`).max(max, `expected an integer from ${min} to ${max}`);
const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"], { message: 'expected one of "true", "false", "1", "0", "yes", "no"' })
  .transform((v) => v === "true" || v === "1" || v === "yes");
const url = z.string().url();
const REDIS_SCHEME = /^rediss?:\/\//;

/** The values of LABELQ_RESIDENCY, narrowest first. */
export const RESIDENCIES = ["region", "geography", "global"] as const;

/**
 * Defaults that other modules share, in one place: the request limits (from the wire
 * contract), the table names, the label cache's lifetime and a batch's retry budget.
 */
export const DEFAULTS = {
  limits: DEFAULT_REQUEST_LIMITS,
  tables: { cacheTable: "labelq-label-cache", batchesTable: "labelq-batches", bulkTable: "labelq-bulk" },
  cacheTtlDays: 30,
  retryBudgetS: 60,
} as const;

/**
 * One quota pool of LABELQ_POOLS: a Region (Bedrock's quotas are per model and per Region) with
 * its own limits; `model` keeps the pool to one model alias, called as `modelId` there when set.
 */
const poolSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, "expected lower-case letters, digits and dashes (at most 40)").optional(),
    region: z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d{1,2}$/, 'expected an AWS Region such as "us-west-2"'),
    model: z.string().min(1, "expected a model alias").optional(),
    modelId: z.string().min(1, "expected a model id or inference profile id/ARN").optional(),
    roleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, "expected an IAM role ARN").optional(),
    tier: z.enum(["default", "priority", "flex", "reserved"], { message: 'expected "default", "priority", "flex" or "reserved"' }).optional(),
    rpm: z.number({ message: "expected an integer from 0" }).int("expected an integer from 0").min(0, "expected an integer from 0").optional(),
    tpm: z.number({ message: "expected an integer from 0" }).int("expected an integer from 0").min(0, "expected an integer from 0").optional(),
    tpd: z.number({ message: "expected an integer from 0" }).int("expected an integer from 0").min(0, "expected an integer from 0").optional(),
  })
  .strict();

/** A quota pool as configured (LABELQ_POOLS), its id defaulted to its Region. */
export type PoolConfig = z.output<typeof poolSchema> & { id: string };

/**
 * LABELQ_POOLS: a JSON list, inline (starting with "[") or in the file the value names. Each
 * problem is named by the pool's index and field, so one start-up error lists them all.
 */
/**
 * A JSON setting given inline (its text starts with one of `starts`) or as the path of a file
 * holding it: the JSON text, or undefined after an issue naming the unreadable file.
 */
function inlineOrFileText(value: string, starts: readonly string[], what: string, ctx: z.RefinementCtx): string | undefined {
  const text = value.trim();
  if (starts.some((s) => text.startsWith(s))) return text;
  try {
    return fs.readFileSync(text, "utf8");
  } catch (error) {
    ctx.addIssue({ code: "custom", message: `cannot read the ${what} file: ${(error as Error).message}` });
    return undefined;
  }
}

const poolsSetting = z.string().transform((value, ctx): PoolConfig[] => {
  const text = inlineOrFileText(value, ["["], "pools", ctx);
  if (text === undefined) return z.NEVER;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    ctx.addIssue({ code: "custom", message: 'expected a JSON list such as [{"region":"us-east-1"},{"region":"us-west-2","rpm":200}]' });
    return z.NEVER;
  }
  if (!Array.isArray(json) || json.length === 0) {
    ctx.addIssue({ code: "custom", message: "expected a non-empty JSON list of pools" });
    return z.NEVER;
  }
  const pools: PoolConfig[] = [];
  json.forEach((raw: unknown, index) => {
    const parsed = poolSchema.safeParse(raw);
    if (!parsed.success) {
      for (const i of parsed.error.issues) ctx.addIssue({ code: "custom", message: `pool ${index}${i.path.length > 0 ? ` field ${i.path.join(".")}` : ""}: ${i.message}` });
      return;
    }
    const pool = { ...parsed.data, id: parsed.data.id ?? parsed.data.region };
    if (pool.modelId !== undefined && pool.model === undefined) ctx.addIssue({ code: "custom", message: `pool ${index} field modelId: needs "model", the alias it is called for` });
    // A reserved tier needs a capacity reservation bought through AWS; labelq calls on demand only.
    if (pool.tier === "reserved") ctx.addIssue({ code: "custom", message: `pool ${index} field tier: "reserved" needs a capacity reservation, which labelq does not use; expected "default", "flex" or "priority"` });
    const twin = pools.findIndex((p) => p.id === pool.id);
    if (twin >= 0) ctx.addIssue({ code: "custom", message: `pool ${index} field id: "${pool.id}" is pool ${twin}'s id too; give each pool in one Region its own "id"` });
    pools.push(pool);
  });
  return pools;
});

/**
 * LABELQ_MODEL_ROUTES: per-model canary, shadow and cascade routes (docs/distill.md), as JSON
 * inline (starting with "{" or "[") or in the file the value names. Only its syntax is checked
 * here; the text is kept as given for the routing code, which owns its shape.
 */
const modelRoutesSetting = z.string().transform((value, ctx): string => {
  const text = inlineOrFileText(value, ["{", "["], "model routes", ctx);
  if (text === undefined) return z.NEVER;
  try {
    JSON.parse(text);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: `expected JSON (inline, or a file holding it): ${(error as Error).message}` });
    return z.NEVER;
  }
  return text;
});

/**
 * Every setting, keyed by the environment variable that sets it. AWS settings follow the
 * SDK's own names so one build talks to AWS, LocalStack or the embedded stack.
 */
const envSchema = z.object({
  AWS_REGION: z.string().min(1).default("us-east-1"),
  AWS_ENDPOINT_URL: url.optional(),
  AWS_ENDPOINT_URL_SQS: url.optional(),
  AWS_ENDPOINT_URL_DYNAMODB: url.optional(),
  AWS_ENDPOINT_URL_BEDROCK_RUNTIME: url.optional(),
  /** The Bedrock control plane (model invocation jobs), and S3 for their input and output. */
  AWS_ENDPOINT_URL_BEDROCK: url.optional(),
  AWS_ENDPOINT_URL_S3: url.optional(),
  /** STS, where a quota pool with a roleArn gets its credentials (AssumeRole). */
  AWS_ENDPOINT_URL_STS: url.optional(),
  /** Service Quotas, where `labelq quotas` and the worker read a pool's Bedrock quotas. */
  AWS_ENDPOINT_URL_SERVICE_QUOTAS: url.optional(),

  LABELQ_REQUESTS_QUEUE_URL: url.optional(),
  LABELQ_RESULTS_QUEUE_URL: url.optional(),
  LABELQ_DLQ_URL: url.optional(),
  /** Queue URLs (or URL prefixes ending in *) a request may name as replyTo. */
  LABELQ_REPLY_TO_ALLOWLIST: csv.default([]),

  LABELQ_CONCURRENCY: int(1, 1000).default(8),
  LABELQ_VISIBILITY_TIMEOUT_S: int(10, 43_200).default(120),
  LABELQ_HEARTBEAT_S: int(1, 43_200).default(30),
  LABELQ_WAIT_TIME_S: int(0, 20).default(20),
  LABELQ_SHUTDOWN_TIMEOUT_S: int(0, 3_600).default(30),
  LABELQ_RETRY_BASE_DELAY_S: int(0, 43_200).default(10),

  LABELQ_MAX_ITEMS: int(1, 1_000).default(DEFAULTS.limits.maxItems),
  LABELQ_MAX_TEXT_CHARS: int(1, 100_000).default(DEFAULTS.limits.maxTextChars),
  LABELQ_MAX_BODY_BYTES: int(1_024, 1_048_576).default(DEFAULTS.limits.maxBodyBytes),

  LABELQ_PROMPTS_DIR: z.string().min(1).default(path.join(packageRoot, "prompts")),
  LABELQ_DEFAULT_TAXONOMY: z.string().min(1).default("product-feedback"),
  LABELQ_DEFAULT_PROMPT_VERSION: z.string().min(1).default("prod"),
  // Llama 3.3 70B: the 25-dimension prompt (~8k tokens) does not fit Llama 3 70B's 8k context.
  LABELQ_DEFAULT_MODEL: z.string().min(1).default("llama3.3-70b"),
  /** Model aliases a request may choose; empty means only the default. */
  LABELQ_ALLOWED_MODELS: csv.default([]),
  /** Models that take over, in order, when the requested one is unavailable or keeps answering invalid labels; "none" for no fallback. */
  LABELQ_FALLBACK_MODELS: csv.default(["claude-sonnet"]),
  /** A model catalogue file whose models add to (or, by alias, replace) the packaged ones (src/core/models/model-catalogue.json). */
  LABELQ_MODEL_CATALOGUE: z.string().min(1).optional(),
  /** Which inference-profile geography to call (us, eu, apac, global); default from AWS_REGION. */
  LABELQ_MODEL_GEOGRAPHY: z.string().min(1).optional(),
  /** Per-model canary, shadow and cascade routes (docs/distill.md): JSON, inline or a file path. */
  LABELQ_MODEL_ROUTES: modelRoutesSetting.optional(),
  /**
   * Where Bedrock may run a prompt (docs/residency.md): "region" only in AWS_REGION (in-Region model
   * ids), "geography" anywhere in the geography's cross-Region profile, "global" through global
   * profiles where a model has one.
   */
  LABELQ_RESIDENCY: z.enum(RESIDENCIES, { message: 'expected "region", "geography" or "global"' }).default("geography"),

  /**
   * Service tier policy (docs/configuration.md#service-tiers), for requests that name no `tier`:
   * flex when the deadline is at least LABELQ_FLEX_BEYOND_S away (or, with
   * LABELQ_FLEX_WITHOUT_DEADLINE, when there is none: backlog work), priority when it is within
   * LABELQ_PRIORITY_WITHIN_S. Unset: no tier is chosen, calls go out as before tiers.
   */
  LABELQ_FLEX_BEYOND_S: int(0, 31_536_000).optional(),
  LABELQ_FLEX_WITHOUT_DEADLINE: bool.default(false),
  LABELQ_PRIORITY_WITHIN_S: int(0, 31_536_000).optional(),

  LABELQ_CHUNK_SIZE: int(1, 200).default(50),
  LABELQ_MAX_REASK_ROUNDS: int(0, 10).default(2),
  LABELQ_MODEL_TIMEOUT_MS: int(1_000, 600_000).default(120_000),
  LABELQ_MODEL_MAX_ATTEMPTS: int(1, 10).default(3),

  /** Calls in flight per model: fleet-wide with LABELQ_REDIS_URL (Bottleneck clustered), per process without. */
  LABELQ_LIMITER_MAX_CONCURRENT: int(1, 10_000).default(8),
  /** Each model's quota (requests and tokens per minute); 0 = no limit of that kind. LABELQ_QUOTAS overrides per model. */
  LABELQ_QUOTA_RPM: int(0, 1_000_000).default(0),
  LABELQ_QUOTA_TPM: int(0, 1_000_000_000).default(0),
  LABELQ_QUOTAS: z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: 'expected JSON such as {"llama3.3-70b":{"rpm":800,"tpm":300000}}' });
        return z.NEVER;
      }
    })
    .pipe(
      z
        .record(z.string(), z.object({ rpm: z.number().int().min(0).optional(), tpm: z.number().int().min(0).optional() }).strict())
        .refine((quotas) => Object.keys(quotas).every((alias) => alias.trim().length > 0), "expected non-empty model aliases as keys"),
    )
    .default({}),
  /** Quota pools (docs/operating.md#quota-pools): without it, one pool in AWS_REGION with the quotas above. */
  LABELQ_POOLS: poolsSetting.optional(),
  /** The quota's rolling window: Bedrock's is 60 s; shorter only against an emulator whose window is shortened too. */
  LABELQ_QUOTA_WINDOW_S: int(1, 60).default(60),
  /** Workers expected to share the quota; each takes 1/N of it while Redis is unreachable. */
  LABELQ_EXPECTED_WORKERS: int(1, 10_000).default(1),
  LABELQ_RETRY_BUDGET_S: int(0, 3_600).default(DEFAULTS.retryBudgetS),
  /** Unavailability failures in a row that open a model's circuit breaker, and how long it stays open. */
  LABELQ_BREAKER_THRESHOLD: int(1, 1_000).default(5),
  LABELQ_BREAKER_COOLDOWN_S: int(1, 3_600).default(30),
  /** Minimum spacing between call starts per model: fleet-wide with LABELQ_REDIS_URL, per process without. */
  LABELQ_LIMITER_MIN_TIME_MS: int(0, 60_000).default(0),
  LABELQ_REDIS_URL: z.string().regex(REDIS_SCHEME, "expected a redis:// or rediss:// URL").optional(),
  /**
   * The password the limiter's Redis client authenticates with (AUTH): ElastiCache's AUTH token or
   * an ACL (RBAC) user's password, injected from a secret. Never logged, never echoed in an error.
   */
  LABELQ_REDIS_AUTH_TOKEN: z.string().refine((s) => s.trim() === s, "has leading or trailing whitespace (a newline from the secret's value?)").optional(),
  /** The Redis ACL (ElastiCache RBAC) user that LABELQ_REDIS_AUTH_TOKEN belongs to; unset authenticates as the default user. */
  LABELQ_REDIS_USERNAME: z.string().regex(/^\S+$/, "expected a user name without whitespace").optional(),
  LABELQ_LIMITER_ID: z.string().min(1).default("labelq"),

  /** DynamoDB tables; "off" turns the feature off. */
  LABELQ_CACHE_TABLE: z.string().default(DEFAULTS.tables.cacheTable),
  LABELQ_BATCHES_TABLE: z.string().default(DEFAULTS.tables.batchesTable),
  LABELQ_CACHE_TTL_DAYS: int(1, 3_650).default(DEFAULTS.cacheTtlDays),
  LABELQ_BATCH_RECORD_TTL_DAYS: int(1, 365).default(7),

  /**
   * Bulk path (Bedrock batch inference, docs/bulk.md): on when a bucket and a service role are
   * set. Quotas per model and Region are AWS's defaults (docs: Amazon Bedrock endpoints and
   * quotas): 50,000 records and 1 GB per input file, 5 GB per job, 20 jobs submitted or in progress.
   */
  LABELQ_BULK_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "expected an S3 bucket name").optional(),
  LABELQ_BULK_PREFIX: z.string().regex(/^([A-Za-z0-9._-]+\/)*$/, 'expected a key prefix ending in "/" (or empty)').default("labelq-bulk/"),
  /** The service role Bedrock assumes to read the input and write the output (deploy/iam/bedrock-batch-role-policy.json). */
  LABELQ_BULK_ROLE_ARN: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, "expected an IAM role ARN").optional(),
  LABELQ_BULK_TABLE: z.string().default(DEFAULTS.tables.bulkTable),
  /** Seconds between passes of the bulk loop (assemble, submit, poll, collect). */
  LABELQ_BULK_POLL_S: int(1, 3_600).default(60),
  /** Longest a bulk batch waits to be gathered into a job before the job is flushed (or, below the model's minimum, the batch goes live). */
  LABELQ_BULK_GATHER_S: int(1, 86_400).default(900),
  LABELQ_BULK_MAX_RECORDS_PER_FILE: int(1, 50_000).default(50_000),
  LABELQ_BULK_MAX_RECORDS_PER_JOB: int(1, 1_000_000).default(50_000),
  /** Below the 1 GB quota by default: a file is built in memory before it is uploaded. */
  LABELQ_BULK_MAX_FILE_BYTES: int(1_000, 1_000_000_000).default(256_000_000),
  LABELQ_BULK_MAX_JOB_BYTES: int(1_000, 5_000_000_000).default(5_000_000_000),
  LABELQ_BULK_MAX_JOBS: int(1, 1_000).default(20),
  /**
   * How long a batch may wait, from when it was taken in, while its model has LABELQ_BULK_MAX_JOBS
   * jobs open; past it the batch goes live (a job slot can take a whole job's timeout to free).
   */
  LABELQ_BULK_MAX_WAIT_S: int(60, 604_800).default(3_600),
  /**
   * Overrides every model's minimum records per job (the catalogue's batch.minRecordsPerJob). AWS
   * lists that quota (100) as not adjustable for Llama 3.3 70B, Nova Micro and Nova Lite: this is
   * for tests and emulated stacks, not a way around Bedrock's minimum.
   */
  LABELQ_BULK_MIN_RECORDS: int(1, 1_000_000).optional(),
  /** Bedrock's timeoutDurationInHours (24 to 168): a job still running then ends PartiallyCompleted, one that never started, Expired. */
  LABELQ_BULK_JOB_TIMEOUT_H: int(24, 168).default(24),
  /** auto picks bulk when the backlog would take at least this long to drain at the on-demand quota. */
  LABELQ_BULK_MIN_BACKLOG_S: int(0, 604_800).default(3_600),
  /** Expected time from submitting a job to its output; auto picks live when a deadline is closer than this plus the gather time. */
  LABELQ_BULK_TURNAROUND_S: int(60, 604_800).default(6 * 3_600),
  /** What becomes of a batch whose job failed, expired or was stopped before labelling any of its texts: labelled live, or sent to the DLQ. */
  LABELQ_BULK_ON_JOB_FAILURE: z.enum(["live", "dlq"], { message: 'expected "live" or "dlq"' }).default("live"),

  /** Port of /metrics, /healthz and /readyz (0 picks a free port). */
  LABELQ_HTTP_PORT: int(0, 65_535).default(9400),

  /** Default: info for the worker; short-lived commands (eval, demo) pass their own default (warn). */
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  LABELQ_LOG_TEXTS: bool.default(false),
  LABELQ_LOG_PRETTY: bool.optional(),
});

/** The environment variables loadConfig reads, for docs and `--help`. */
export const configVariables = Object.keys(envSchema.shape);

export type Env = z.input<typeof envSchema>;
type Parsed = z.output<typeof envSchema>;

/** "off" turns a DynamoDB table (and its feature) off. */
const table = (name: string): string | undefined => (name === "off" ? undefined : name);

/** Each service's endpoint override, falling back to AWS_ENDPOINT_URL as the SDK does. */
function endpointsFrom(e: Parsed) {
  const all = e.AWS_ENDPOINT_URL;
  return {
    sqs: e.AWS_ENDPOINT_URL_SQS ?? all,
    dynamodb: e.AWS_ENDPOINT_URL_DYNAMODB ?? all,
    bedrock: e.AWS_ENDPOINT_URL_BEDROCK_RUNTIME ?? all,
    s3: e.AWS_ENDPOINT_URL_S3 ?? all,
    bedrockControl: e.AWS_ENDPOINT_URL_BEDROCK ?? all,
    sts: e.AWS_ENDPOINT_URL_STS ?? all,
    serviceQuotas: e.AWS_ENDPOINT_URL_SERVICE_QUOTAS ?? all,
  };
}

function workerFrom(e: Parsed) {
  return {
    concurrency: e.LABELQ_CONCURRENCY,
    visibilityTimeoutS: e.LABELQ_VISIBILITY_TIMEOUT_S,
    heartbeatS: e.LABELQ_HEARTBEAT_S,
    waitTimeS: e.LABELQ_WAIT_TIME_S,
    shutdownTimeoutS: e.LABELQ_SHUTDOWN_TIMEOUT_S,
    retryBaseDelayS: e.LABELQ_RETRY_BASE_DELAY_S,
  };
}

/**
 * Model aliases, checked only for being non-empty here: the composition root loads the
 * catalogue (src/app/worker/worker.ts modelCatalogueFor) and checks them against it.
 */
function modelsFrom(e: Parsed) {
  return {
    default: e.LABELQ_DEFAULT_MODEL,
    allowed: e.LABELQ_ALLOWED_MODELS,
    fallbacks: e.LABELQ_FALLBACK_MODELS.filter((m) => m !== "none"),
    catalogueFile: e.LABELQ_MODEL_CATALOGUE,
    geography: e.LABELQ_MODEL_GEOGRAPHY,
    /** LABELQ_MODEL_ROUTES' JSON text (inline, or the file's contents), syntax-checked only. */
    routesJson: e.LABELQ_MODEL_ROUTES,
    // Always set here ("geography" by default); optional in the type so that a Config built by
    // hand (a test's) may leave it out, which the catalogue reads as "geography".
    residency: e.LABELQ_RESIDENCY as (typeof RESIDENCIES)[number] | undefined,
  };
}

function bedrockFrom(e: Parsed) {
  return {
    timeoutMs: e.LABELQ_MODEL_TIMEOUT_MS,
    maxAttempts: e.LABELQ_MODEL_MAX_ATTEMPTS,
    retryBudgetS: e.LABELQ_RETRY_BUDGET_S,
    breakerThreshold: e.LABELQ_BREAKER_THRESHOLD,
    breakerCooldownS: e.LABELQ_BREAKER_COOLDOWN_S,
  };
}

/** The variables whose values are secrets: never logged, and never echoed in a configuration error. */
export const SECRET_VARIABLES: ReadonlySet<string> = new Set(["LABELQ_REDIS_AUTH_TOKEN"]);

/** LABELQ_REDIS_URL's parts, or undefined when it does not parse as a URL. */
function parseRedisUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/**
 * LABELQ_REDIS_AUTH_TOKEN and LABELQ_REDIS_USERNAME each have one meaning: a password (and user)
 * for the Redis of LABELQ_REDIS_URL. A URL that holds a password (or user) of its own keeps
 * working alone; with the variable too, which one is meant is not guessed: start-up is refused.
 */
function redisCredentialIssues(e: Parsed, ctx: z.RefinementCtx): void {
  const token = e.LABELQ_REDIS_AUTH_TOKEN;
  const user = e.LABELQ_REDIS_USERNAME;
  if (token === undefined && user === undefined) return;
  const issue = (variable: string, message: string) => ctx.addIssue({ code: "custom", path: [variable], message });
  if (e.LABELQ_REDIS_URL === undefined) {
    for (const [variable, value] of [["LABELQ_REDIS_AUTH_TOKEN", token], ["LABELQ_REDIS_USERNAME", user]] as const) {
      if (value !== undefined) issue(variable, "needs LABELQ_REDIS_URL (without it the limiter uses no Redis, so nothing would authenticate with it)");
    }
    return;
  }
  const url = parseRedisUrl(e.LABELQ_REDIS_URL);
  if (!url) {
    // A URL of another scheme has its own issue already.
    if (REDIS_SCHEME.test(e.LABELQ_REDIS_URL)) issue("LABELQ_REDIS_URL", "cannot be parsed as a URL, so LABELQ_REDIS_AUTH_TOKEN / LABELQ_REDIS_USERNAME cannot be added to it");
    return;
  }
  if (token !== undefined && url.password !== "") {
    issue("LABELQ_REDIS_AUTH_TOKEN", "LABELQ_REDIS_URL holds a password too: give it in one place only (keep the token, from a secret, and take the password out of the URL)");
  }
  if (user !== undefined && url.username !== "") {
    issue("LABELQ_REDIS_USERNAME", "LABELQ_REDIS_URL names a user too: give it in one place only");
  }
  if (user !== undefined && token === undefined && url.password === "") {
    issue("LABELQ_REDIS_USERNAME", "needs LABELQ_REDIS_AUTH_TOKEN, the user's password (Redis authenticates a user with a password)");
  }
}

/**
 * LABELQ_REDIS_URL with LABELQ_REDIS_USERNAME and LABELQ_REDIS_AUTH_TOKEN put in its user part:
 * ioredis reads them from there, so every client made from the URL (Bottleneck's subscriber, a
 * start-up check) authenticates the same way, and the one field `redisUrl` is the secret the
 * logger redacts. Each is percent-encoded first, since the URL setters leave "%" as it is and
 * ioredis decodes what it reads.
 */
function redisUrlFrom(e: Parsed): string | undefined {
  const raw = e.LABELQ_REDIS_URL;
  if (raw === undefined || (e.LABELQ_REDIS_AUTH_TOKEN === undefined && e.LABELQ_REDIS_USERNAME === undefined)) return raw;
  const url = parseRedisUrl(raw);
  if (!url) return raw;
  if (e.LABELQ_REDIS_USERNAME !== undefined) url.username = encodeURIComponent(e.LABELQ_REDIS_USERNAME);
  if (e.LABELQ_REDIS_AUTH_TOKEN !== undefined) url.password = encodeURIComponent(e.LABELQ_REDIS_AUTH_TOKEN);
  return url.href;
}

function limiterFrom(e: Parsed) {
  return {
    maxConcurrent: e.LABELQ_LIMITER_MAX_CONCURRENT,
    minTimeMs: e.LABELQ_LIMITER_MIN_TIME_MS,
    /** With LABELQ_REDIS_USERNAME and LABELQ_REDIS_AUTH_TOKEN in it (redisUrlFrom): a secret. */
    redisUrl: redisUrlFrom(e),
    id: e.LABELQ_LIMITER_ID,
    quota: { rpm: e.LABELQ_QUOTA_RPM, tpm: e.LABELQ_QUOTA_TPM },
    quotas: e.LABELQ_QUOTAS,
    // Left out when unset, so a configuration without pools is exactly what it was before them.
    ...(e.LABELQ_POOLS !== undefined ? { pools: e.LABELQ_POOLS } : {}),
    windowS: e.LABELQ_QUOTA_WINDOW_S,
    expectedWorkers: e.LABELQ_EXPECTED_WORKERS,
  };
}

/** The bulk path is `enabled` when a bucket and a role are set (and its table is not "off"). */
function bulkFrom(e: Parsed) {
  return {
    enabled: e.LABELQ_BULK_BUCKET !== undefined && e.LABELQ_BULK_ROLE_ARN !== undefined && e.LABELQ_BULK_TABLE !== "off",
    bucket: e.LABELQ_BULK_BUCKET,
    prefix: e.LABELQ_BULK_PREFIX,
    roleArn: e.LABELQ_BULK_ROLE_ARN,
    table: table(e.LABELQ_BULK_TABLE),
    pollS: e.LABELQ_BULK_POLL_S,
    gatherS: e.LABELQ_BULK_GATHER_S,
    limits: {
      maxRecordsPerFile: e.LABELQ_BULK_MAX_RECORDS_PER_FILE,
      maxRecordsPerJob: e.LABELQ_BULK_MAX_RECORDS_PER_JOB,
      maxFileBytes: e.LABELQ_BULK_MAX_FILE_BYTES,
      maxJobBytes: e.LABELQ_BULK_MAX_JOB_BYTES,
      maxJobs: e.LABELQ_BULK_MAX_JOBS,
      minRecords: e.LABELQ_BULK_MIN_RECORDS,
    },
    maxWaitS: e.LABELQ_BULK_MAX_WAIT_S,
    jobTimeoutH: e.LABELQ_BULK_JOB_TIMEOUT_H,
    policy: { minBacklogS: e.LABELQ_BULK_MIN_BACKLOG_S, turnaroundS: e.LABELQ_BULK_TURNAROUND_S },
    onJobFailure: e.LABELQ_BULK_ON_JOB_FAILURE,
  };
}

/** The environment, validated and shaped into the nested configuration every module receives. */
const configSchema = envSchema.superRefine(redisCredentialIssues).transform((e) =>
  optionalKeys({
    region: e.AWS_REGION,
    endpoints: endpointsFrom(e),
    queues: { requests: e.LABELQ_REQUESTS_QUEUE_URL, results: e.LABELQ_RESULTS_QUEUE_URL, dlq: e.LABELQ_DLQ_URL },
    replyToAllowlist: e.LABELQ_REPLY_TO_ALLOWLIST,
    worker: workerFrom(e),
    limits: { maxItems: e.LABELQ_MAX_ITEMS, maxTextChars: e.LABELQ_MAX_TEXT_CHARS, maxBodyBytes: e.LABELQ_MAX_BODY_BYTES },
    prompts: { dir: e.LABELQ_PROMPTS_DIR, defaultTaxonomy: e.LABELQ_DEFAULT_TAXONOMY, defaultVersion: e.LABELQ_DEFAULT_PROMPT_VERSION },
    models: modelsFrom(e),
    classify: { chunkSize: e.LABELQ_CHUNK_SIZE, maxReaskRounds: e.LABELQ_MAX_REASK_ROUNDS },
    /** The service tier policy (TierPolicy in src/core/models/service-tiers.ts). */
    tiers: { flexBeyondS: e.LABELQ_FLEX_BEYOND_S, flexWithoutDeadline: e.LABELQ_FLEX_WITHOUT_DEADLINE, priorityWithinS: e.LABELQ_PRIORITY_WITHIN_S },
    bedrock: bedrockFrom(e),
    limiter: limiterFrom(e),
    store: {
      cacheTable: table(e.LABELQ_CACHE_TABLE),
      batchesTable: table(e.LABELQ_BATCHES_TABLE),
      cacheTtlDays: e.LABELQ_CACHE_TTL_DAYS,
      batchRecordTtlDays: e.LABELQ_BATCH_RECORD_TTL_DAYS,
    },
    log: { level: e.LOG_LEVEL, logTexts: e.LABELQ_LOG_TEXTS, pretty: e.LABELQ_LOG_PRETTY },
    http: { port: e.LABELQ_HTTP_PORT },
    bulk: bulkFrom(e),
  }),
);

/**
 * A settings object typed with `key?: T` wherever its value may be undefined, the way callers
 * (and test fakes) write a Config: an unset setting may be left out, not only set to undefined.
 */
type OptionalKeys<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T as undefined extends T[K] ? K : never]?: OptionalKeys<Exclude<T[K], undefined>> } & {
        [K in keyof T as undefined extends T[K] ? never : K]: OptionalKeys<T[K]>;
      } extends infer O
      ? { [K in keyof O]: O[K] }
      : never
    : T;
const optionalKeys = <T>(settings: T): OptionalKeys<T> => settings as OptionalKeys<T>;

/** The validated configuration every module receives (and never reads from the environment itself). */
export type Config = z.output<typeof configSchema>;

/** The bulk path's settings (docs/bulk.md); `enabled` when a bucket and a role are set. */
export type BulkConfig = Config["bulk"];

/** Defaults a caller may choose where the environment says nothing. */
export interface ConfigDefaults {
  /** LOG_LEVEL when it is unset; "info" unless given. */
  logLevel?: Config["log"]["level"];
}

/** The variables loadConfig reads that are set (an empty string counts as unset), with a caller's defaults for the rest. */
function settingsIn(env: Record<string, string | undefined>, defaults: ConfigDefaults): Record<string, string> {
  const set: Record<string, string> = Object.fromEntries(configVariables.flatMap((k) => (env[k] === undefined || env[k] === "" ? [] : [[k, env[k]]])));
  if (set.LOG_LEVEL === undefined && defaults.logLevel !== undefined) set.LOG_LEVEL = defaults.logLevel;
  return set;
}

/**
 * A variable's value as a configuration error quotes it: a secret's not at all, a URL's without
 * the credentials it may hold (up to its last "@", so a password with "/" or "@" in it is hidden too).
 */
function shownValue(variable: string, value: string): string {
  if (SECRET_VARIABLES.has(variable)) return "[redacted]";
  return JSON.stringify(value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[\s\S]*@/i, "$1[redacted]@"));
}

/** Validates every variable at once: one ConfigError names each bad variable with its value and what it allows. */
function parseSettings(settings: Record<string, string>): Config {
  const parsed = configSchema.safeParse(settings);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((i) => {
      // A path below the variable (a key inside LABELQ_QUOTAS' JSON) is named after its value.
      const [variable = "", ...inside] = i.path.map(String);
      const where = inside.length > 0 ? `${inside.join(".")}: ` : "";
      return `${variable}=${shownValue(variable, settings[variable] ?? "")}: ${where}${i.message}`;
    }),
  );
}

/** Settings valid one by one but not together, each named with the variable to change. */
function combinationIssues(config: Config): string[] {
  const { bulk, worker } = config;
  const issues: string[] = [];
  if ((bulk.bucket === undefined) !== (bulk.roleArn === undefined)) {
    const [missing, given] = bulk.bucket === undefined ? ["LABELQ_BULK_BUCKET", "LABELQ_BULK_ROLE_ARN"] : ["LABELQ_BULK_ROLE_ARN", "LABELQ_BULK_BUCKET"];
    issues.push(`${missing}: required with ${given} (the bulk path needs both a bucket and the service role Bedrock assumes)`);
  }
  if (bulk.limits.maxFileBytes > bulk.limits.maxJobBytes) {
    issues.push(`LABELQ_BULK_MAX_FILE_BYTES=${bulk.limits.maxFileBytes}: must not exceed LABELQ_BULK_MAX_JOB_BYTES (${bulk.limits.maxJobBytes})`);
  }
  const { flexBeyondS, priorityWithinS } = config.tiers;
  if (flexBeyondS !== undefined && priorityWithinS !== undefined && priorityWithinS >= flexBeyondS) {
    issues.push(`LABELQ_PRIORITY_WITHIN_S=${priorityWithinS}: must be shorter than LABELQ_FLEX_BEYOND_S (${flexBeyondS}), or a deadline would ask for both priority and flex`);
  }
  if (worker.heartbeatS >= worker.visibilityTimeoutS) {
    issues.push(
      `LABELQ_HEARTBEAT_S=${worker.heartbeatS}: must be shorter than LABELQ_VISIBILITY_TIMEOUT_S (${worker.visibilityTimeoutS}) so the heartbeat extends visibility before it lapses`,
    );
  }
  return issues;
}

/** Parse and validate configuration from environment variables once, at start-up. Throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined>, defaults: ConfigDefaults = {}): Config {
  const config = parseSettings(settingsIn(env, defaults));
  const issues = combinationIssues(config);
  if (issues.length > 0) throw new ConfigError(issues);
  return config;
}


const QUEUE_VARIABLES: Record<keyof Config["queues"], string> = { requests: "LABELQ_REQUESTS_QUEUE_URL", results: "LABELQ_RESULTS_QUEUE_URL", dlq: "LABELQ_DLQ_URL" };

/** Requires a queue URL that config may leave unset (e.g. `enqueue` needs only the requests queue). */
export function requireQueue(config: Config, which: keyof Config["queues"]): string {
  return requireQueues(config, [which])[which];
}

/** Requires several queue URLs: one ConfigError names every one that is missing, so a single run shows them all. */
export function requireQueues<K extends keyof Config["queues"]>(config: Config, which: readonly K[]): Record<K, string> {
  const missing = which.filter((k) => !config.queues[k]);
  if (missing.length > 0) throw new ConfigError(missing.map((k) => `${QUEUE_VARIABLES[k]}: required for this command (the ${k} queue URL)`));
  return Object.fromEntries(which.map((k) => [k, config.queues[k]])) as Record<K, string>;
}
