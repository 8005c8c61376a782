import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { DEFAULT_REQUEST_LIMITS } from "../contracts/request.ts";
import { ConfigError } from "../errors/errors.ts";

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

const csv = z
  .string()
  .transform((s) => s.split(",").map((x) => x.trim()).filter((x) => x.length > 0));
const int = (min: number, max: number) =>
  z.coerce.number({ message: `expected an integer from ${min} to ${max}` }).int(`expected an integer from ${min} to ${max}`).min(min, `expected an integer from ${min} to ${max}`).max(max, `expected an integer from ${min} to ${max}`);
const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"], { message: 'expected one of "true", "false", "1", "0", "yes", "no"' })
  .transform((v) => v === "true" || v === "1" || v === "yes");
const url = z.string().url();

/**
 * Defaults that other modules share, in one place: the request limits (from the wire
 * contract), the table names, the label cache's lifetime and a batch's retry budget.
 */
export const DEFAULTS = {
  limits: DEFAULT_REQUEST_LIMITS,
  tables: { cacheTable: "labelq-label-cache", batchesTable: "labelq-batches" },
  cacheTtlDays: 30,
  retryBudgetS: 60,
} as const;

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
  /** A model catalogue file whose models add to (or, by alias, replace) the packaged ones (src/llm/model-catalogue.json). */
  LABELQ_MODEL_CATALOGUE: z.string().min(1).optional(),
  /** Which inference-profile geography to call (us, eu, apac, global); default from AWS_REGION. */
  LABELQ_MODEL_GEOGRAPHY: z.string().min(1).optional(),

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
  LABELQ_REDIS_URL: z.string().regex(/^rediss?:\/\//, "expected a redis:// or rediss:// URL").optional(),
  LABELQ_LIMITER_ID: z.string().min(1).default("labelq"),

  /** DynamoDB tables; "off" turns the feature off. */
  LABELQ_CACHE_TABLE: z.string().default(DEFAULTS.tables.cacheTable),
  LABELQ_BATCHES_TABLE: z.string().default(DEFAULTS.tables.batchesTable),
  LABELQ_CACHE_TTL_DAYS: int(1, 3_650).default(DEFAULTS.cacheTtlDays),
  LABELQ_BATCH_RECORD_TTL_DAYS: int(1, 365).default(7),

  /** Port of /metrics, /healthz and /readyz (0 picks a free port). */
  LABELQ_HTTP_PORT: int(0, 65_535).default(9400),

  /** Default: info for the worker; short-lived commands (eval, demo) pass their own default (warn). */
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).optional(),
  LABELQ_LOG_TEXTS: bool.default(false),
  LABELQ_LOG_PRETTY: bool.optional(),
});

export type Env = z.input<typeof envSchema>;

/** The validated configuration every module receives (and never reads from the environment itself). */
export interface Config {
  region: string;
  endpoints: { sqs?: string; dynamodb?: string; bedrock?: string };
  queues: { requests?: string; results?: string; dlq?: string };
  replyToAllowlist: string[];
  worker: {
    concurrency: number;
    visibilityTimeoutS: number;
    heartbeatS: number;
    waitTimeS: number;
    shutdownTimeoutS: number;
    retryBaseDelayS: number;
  };
  limits: { maxItems: number; maxTextChars: number; maxBodyBytes: number };
  prompts: { dir: string; defaultTaxonomy: string; defaultVersion: string };
  /**
   * Model aliases, checked only for being non-empty here: the composition root loads the
   * catalogue (src/worker.ts modelCatalogueFor) and checks them against it.
   */
  models: { default: string; allowed: string[]; fallbacks: string[]; catalogueFile?: string; geography?: string };
  classify: { chunkSize: number; maxReaskRounds: number };
  bedrock: { timeoutMs: number; maxAttempts: number; retryBudgetS: number; breakerThreshold: number; breakerCooldownS: number };
  limiter: {
    maxConcurrent: number;
    minTimeMs: number;
    redisUrl?: string;
    id: string;
    quota: { rpm: number; tpm: number };
    quotas: Record<string, { rpm?: number; tpm?: number }>;
    windowS: number;
    expectedWorkers: number;
  };
  store: { cacheTable?: string; batchesTable?: string; cacheTtlDays: number; batchRecordTtlDays: number };
  log: { level: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent"; logTexts: boolean; pretty?: boolean };
  http: { port: number };
}

/** Defaults a caller may choose where the environment says nothing. */
export interface ConfigDefaults {
  /** LOG_LEVEL when it is unset; "info" unless given. */
  logLevel?: Config["log"]["level"];
}

/** Parse and validate configuration from environment variables once, at start-up. Throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined>, defaults: ConfigDefaults = {}): Config {
  const relevant = Object.fromEntries(
    Object.keys(envSchema.shape).flatMap((k) => (env[k] === undefined || env[k] === "" ? [] : [[k, env[k]]])),
  );
  const parsed = envSchema.safeParse(relevant);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const name = i.path.join(".");
        return `${name}=${JSON.stringify(relevant[name] ?? "")}: ${i.message}`;
      }),
    );
  }
  const e = parsed.data;
  const config: Config = {
    region: e.AWS_REGION,
    endpoints: {
      sqs: e.AWS_ENDPOINT_URL_SQS ?? e.AWS_ENDPOINT_URL,
      dynamodb: e.AWS_ENDPOINT_URL_DYNAMODB ?? e.AWS_ENDPOINT_URL,
      bedrock: e.AWS_ENDPOINT_URL_BEDROCK_RUNTIME ?? e.AWS_ENDPOINT_URL,
    },
    queues: { requests: e.LABELQ_REQUESTS_QUEUE_URL, results: e.LABELQ_RESULTS_QUEUE_URL, dlq: e.LABELQ_DLQ_URL },
    replyToAllowlist: e.LABELQ_REPLY_TO_ALLOWLIST,
    worker: {
      concurrency: e.LABELQ_CONCURRENCY,
      visibilityTimeoutS: e.LABELQ_VISIBILITY_TIMEOUT_S,
      heartbeatS: e.LABELQ_HEARTBEAT_S,
      waitTimeS: e.LABELQ_WAIT_TIME_S,
      shutdownTimeoutS: e.LABELQ_SHUTDOWN_TIMEOUT_S,
      retryBaseDelayS: e.LABELQ_RETRY_BASE_DELAY_S,
    },
    limits: { maxItems: e.LABELQ_MAX_ITEMS, maxTextChars: e.LABELQ_MAX_TEXT_CHARS, maxBodyBytes: e.LABELQ_MAX_BODY_BYTES },
    prompts: { dir: e.LABELQ_PROMPTS_DIR, defaultTaxonomy: e.LABELQ_DEFAULT_TAXONOMY, defaultVersion: e.LABELQ_DEFAULT_PROMPT_VERSION },
    models: {
      default: e.LABELQ_DEFAULT_MODEL,
      allowed: e.LABELQ_ALLOWED_MODELS,
      fallbacks: e.LABELQ_FALLBACK_MODELS.filter((m) => m !== "none"),
      catalogueFile: e.LABELQ_MODEL_CATALOGUE,
      geography: e.LABELQ_MODEL_GEOGRAPHY,
    },
    classify: { chunkSize: e.LABELQ_CHUNK_SIZE, maxReaskRounds: e.LABELQ_MAX_REASK_ROUNDS },
    bedrock: {
      timeoutMs: e.LABELQ_MODEL_TIMEOUT_MS,
      maxAttempts: e.LABELQ_MODEL_MAX_ATTEMPTS,
      retryBudgetS: e.LABELQ_RETRY_BUDGET_S,
      breakerThreshold: e.LABELQ_BREAKER_THRESHOLD,
      breakerCooldownS: e.LABELQ_BREAKER_COOLDOWN_S,
    },
    limiter: {
      maxConcurrent: e.LABELQ_LIMITER_MAX_CONCURRENT,
      minTimeMs: e.LABELQ_LIMITER_MIN_TIME_MS,
      redisUrl: e.LABELQ_REDIS_URL,
      id: e.LABELQ_LIMITER_ID,
      quota: { rpm: e.LABELQ_QUOTA_RPM, tpm: e.LABELQ_QUOTA_TPM },
      quotas: e.LABELQ_QUOTAS,
      windowS: e.LABELQ_QUOTA_WINDOW_S,
      expectedWorkers: e.LABELQ_EXPECTED_WORKERS,
    },
    store: {
      cacheTable: e.LABELQ_CACHE_TABLE === "off" ? undefined : e.LABELQ_CACHE_TABLE,
      batchesTable: e.LABELQ_BATCHES_TABLE === "off" ? undefined : e.LABELQ_BATCHES_TABLE,
      cacheTtlDays: e.LABELQ_CACHE_TTL_DAYS,
      batchRecordTtlDays: e.LABELQ_BATCH_RECORD_TTL_DAYS,
    },
    log: { level: e.LOG_LEVEL ?? defaults.logLevel ?? "info", logTexts: e.LABELQ_LOG_TEXTS, pretty: e.LABELQ_LOG_PRETTY },
    http: { port: e.LABELQ_HTTP_PORT },
  };
  if (config.worker.heartbeatS >= config.worker.visibilityTimeoutS) {
    throw new ConfigError([
      `LABELQ_HEARTBEAT_S=${config.worker.heartbeatS}: must be shorter than LABELQ_VISIBILITY_TIMEOUT_S (${config.worker.visibilityTimeoutS}) so the heartbeat extends visibility before it lapses`,
    ]);
  }
  return config;
}

/** The environment variables loadConfig reads, for docs and `--help`. */
export const configVariables = Object.keys(envSchema.shape);

/** Requires a queue URL that config may leave unset (e.g. `enqueue` needs only the requests queue). */
export function requireQueue(config: Config, which: keyof Config["queues"]): string {
  const url = config.queues[which];
  if (!url) {
    const name = { requests: "LABELQ_REQUESTS_QUEUE_URL", results: "LABELQ_RESULTS_QUEUE_URL", dlq: "LABELQ_DLQ_URL" }[which];
    throw new ConfigError([`${name}: required for this command (the ${which} queue URL)`]);
  }
  return url;
}
