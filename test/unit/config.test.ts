import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, expectTypeOf, it } from "vitest";
import { type BulkConfig, type Config, configVariables, DEFAULTS, loadConfig, requireQueue, requireQueues } from "../../src/core/config/config.ts";
import { DEFAULT_REQUEST_LIMITS } from "../../src/core/contracts/request.ts";
import { ConfigError } from "../../src/core/errors/errors.ts";
import { PROMPTS_DIR, caught } from "../support/fakes.ts";

function configError(env: Record<string, string | undefined>): ConfigError {
  const error = caught(() => loadConfig(env));
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

describe("loadConfig", () => {
  it("gives every setting its documented default when the environment is empty", () => {
    const config = loadConfig({});
    expect(config.region).toBe("us-east-1");
    expect(config.endpoints).toEqual({ sqs: undefined, dynamodb: undefined, bedrock: undefined });
    expect(config.queues).toEqual({ requests: undefined, results: undefined, dlq: undefined });
    expect(config.replyToAllowlist).toEqual([]);
    expect(config.worker).toEqual({
      concurrency: 8,
      visibilityTimeoutS: 120,
      heartbeatS: 30,
      waitTimeS: 20,
      shutdownTimeoutS: 30,
      retryBaseDelayS: 10,
    });
    expect(config.limits).toEqual({ maxItems: 100, maxTextChars: 5_000, maxBodyBytes: 1_000_000 });
    expect(config.prompts).toEqual({ dir: PROMPTS_DIR, defaultTaxonomy: "product-feedback", defaultVersion: "prod" });
    expect(config.models).toEqual({ default: "llama3.3-70b", allowed: [], fallbacks: ["claude-sonnet"], catalogueFile: undefined, geography: undefined, residency: "geography" });
    expect(config.classify).toEqual({ chunkSize: 50, maxReaskRounds: 2 });
    expect(config.bedrock).toEqual({ timeoutMs: 120_000, maxAttempts: 3, retryBudgetS: 60, breakerThreshold: 5, breakerCooldownS: 30 });
    expect(config.limiter).toEqual({
      maxConcurrent: 8,
      minTimeMs: 0,
      redisUrl: undefined,
      id: "labelq",
      quota: { rpm: 0, tpm: 0 },
      quotas: {},
      windowS: 60,
      expectedWorkers: 1,
    });
    expect(config.log).toEqual({ level: "info", logTexts: false, pretty: undefined });
  });

  it("reads numbers, booleans and comma-separated lists from their variables", () => {
    const config = loadConfig({
      LABELQ_CONCURRENCY: "3",
      LABELQ_LOG_TEXTS: "yes",
      LABELQ_LOG_PRETTY: "0",
      LABELQ_ALLOWED_MODELS: " claude-haiku , llama3.3-70b ,,",
      LABELQ_REPLY_TO_ALLOWLIST: "http://q/a,http://q/b-*",
      LABELQ_REDIS_URL: "rediss://cache:6380",
    });
    expect(config.worker.concurrency).toBe(3);
    expect(config.log.logTexts).toBe(true);
    expect(config.log.pretty).toBe(false);
    expect(config.models.allowed).toEqual(["claude-haiku", "llama3.3-70b"]);
    expect(config.replyToAllowlist).toEqual(["http://q/a", "http://q/b-*"]);
    expect(config.limiter.redisUrl).toBe("rediss://cache:6380");
  });

  it("uses AWS_ENDPOINT_URL for every service that has no endpoint of its own", () => {
    const config = loadConfig({ AWS_ENDPOINT_URL: "http://localhost:4566" });
    expect(config.endpoints).toEqual({
      sqs: "http://localhost:4566",
      dynamodb: "http://localhost:4566",
      bedrock: "http://localhost:4566",
      s3: "http://localhost:4566",
      bedrockControl: "http://localhost:4566",
      sts: "http://localhost:4566",
      serviceQuotas: "http://localhost:4566",
    });
  });

  it("lets AWS_ENDPOINT_URL_STS and AWS_ENDPOINT_URL_SERVICE_QUOTAS beat AWS_ENDPOINT_URL for their services", () => {
    const config = loadConfig({ AWS_ENDPOINT_URL: "http://localhost:4566", AWS_ENDPOINT_URL_STS: "http://localhost:4600", AWS_ENDPOINT_URL_SERVICE_QUOTAS: "http://localhost:4601" });
    expect(config.endpoints.sts).toBe("http://localhost:4600");
    expect(config.endpoints.serviceQuotas).toBe("http://localhost:4601");
    expect(config.endpoints.sqs).toBe("http://localhost:4566");
  });

  it("lets AWS_ENDPOINT_URL_SQS beat AWS_ENDPOINT_URL for SQS only", () => {
    const config = loadConfig({ AWS_ENDPOINT_URL: "http://localhost:4566", AWS_ENDPOINT_URL_SQS: "http://localhost:9324" });
    expect(config.endpoints.sqs).toBe("http://localhost:9324");
    expect(config.endpoints.dynamodb).toBe("http://localhost:4566");
    expect(config.endpoints.bedrock).toBe("http://localhost:4566");
  });

  it("lets the service-specific DynamoDB and Bedrock endpoints beat AWS_ENDPOINT_URL", () => {
    const config = loadConfig({
      AWS_ENDPOINT_URL: "http://localhost:4566",
      AWS_ENDPOINT_URL_DYNAMODB: "http://localhost:8000",
      AWS_ENDPOINT_URL_BEDROCK_RUNTIME: "http://localhost:7000",
    });
    expect(config.endpoints).toEqual({
      sqs: "http://localhost:4566",
      dynamodb: "http://localhost:8000",
      bedrock: "http://localhost:7000",
      s3: "http://localhost:4566",
      bedrockControl: "http://localhost:4566",
      sts: "http://localhost:4566",
      serviceQuotas: "http://localhost:4566",
    });
  });

  it("keeps LABELQ_MODEL_ROUTES' JSON text, inline or read from the file it names, and refuses text that is not JSON", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "labelq-routes-")), "routes.json");
    fs.writeFileSync(file, '{"m":{"shadow":"n"}}');
    expect(loadConfig({ LABELQ_MODEL_ROUTES: file }).models.routesJson).toBe('{"m":{"shadow":"n"}}');
    expect(loadConfig({ LABELQ_MODEL_ROUTES: '[{"model":"m"}]' }).models.routesJson).toBe('[{"model":"m"}]');
    expect(loadConfig({}).models.routesJson).toBeUndefined();
    expect(configError({ LABELQ_MODEL_ROUTES: "{not json" }).message).toMatch(/LABELQ_MODEL_ROUTES=.*expected JSON/);
    expect(configError({ LABELQ_MODEL_ROUTES: "/no/such/routes.json" }).message).toMatch(/LABELQ_MODEL_ROUTES=.*cannot read the model routes file/);
  });

  it("refuses a priority window as long as the flex horizon, naming both variables", () => {
    expect(configError({ LABELQ_PRIORITY_WITHIN_S: "600", LABELQ_FLEX_BEYOND_S: "600" }).message).toMatch(/LABELQ_PRIORITY_WITHIN_S=600: must be shorter than LABELQ_FLEX_BEYOND_S \(600\)/);
    expect(loadConfig({ LABELQ_PRIORITY_WITHIN_S: "600", LABELQ_FLEX_BEYOND_S: "3600" }).tiers).toEqual({ flexBeyondS: 3600, flexWithoutDeadline: false, priorityWithinS: 600 });
  });

  it("treats empty strings as unset, so defaults apply", () => {
    const config = loadConfig({ LABELQ_CONCURRENCY: "", LOG_LEVEL: "", AWS_ENDPOINT_URL: "", LABELQ_REDIS_URL: "", AWS_REGION: "" });
    expect(config.worker.concurrency).toBe(8);
    expect(config.log.level).toBe("info");
    expect(config.endpoints.sqs).toBeUndefined();
    expect(config.limiter.redisUrl).toBeUndefined();
    expect(config.region).toBe("us-east-1");
  });

  it("ignores variables it does not know", () => {
    expect(() => loadConfig({ PATH: "/usr/bin", LABELQ_NOT_A_SETTING: "x" })).not.toThrow();
  });

  it("rejects LABELQ_CONCURRENCY=abc, naming the variable, its value and the allowed range", () => {
    const error = configError({ LABELQ_CONCURRENCY: "abc" });
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.retryable).toBe(false);
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatch(/^LABELQ_CONCURRENCY="abc": expected an integer from 1 to 1000$/);
    expect(error.message).toContain('LABELQ_CONCURRENCY="abc"');
  });

  it("rejects an out-of-range or fractional number, naming the allowed range", () => {
    expect(configError({ LABELQ_CONCURRENCY: "0" }).issues[0]).toBe('LABELQ_CONCURRENCY="0": expected an integer from 1 to 1000');
    expect(configError({ LABELQ_WAIT_TIME_S: "21" }).issues[0]).toBe('LABELQ_WAIT_TIME_S="21": expected an integer from 0 to 20');
    expect(configError({ LABELQ_CONCURRENCY: "1.5" }).issues[0]).toBe('LABELQ_CONCURRENCY="1.5": expected an integer from 1 to 1000');
  });

  it("rejects LOG_LEVEL=loud, listing the allowed levels", () => {
    const message = configError({ LOG_LEVEL: "loud" }).issues[0] ?? "";
    expect(message).toMatch(/^LOG_LEVEL="loud": /);
    for (const level of ["fatal", "error", "warn", "info", "debug", "trace", "silent"]) expect(message).toContain(`"${level}"`);
  });

  it("rejects LABELQ_REDIS_URL=http://x, saying a redis:// or rediss:// URL is expected", () => {
    expect(configError({ LABELQ_REDIS_URL: "http://x" }).issues[0]).toBe('LABELQ_REDIS_URL="http://x": expected a redis:// or rediss:// URL');
  });

  it("rejects a boolean it cannot read, listing the accepted spellings", () => {
    expect(configError({ LABELQ_LOG_TEXTS: "TRUE" }).issues[0]).toBe(
      'LABELQ_LOG_TEXTS="TRUE": expected one of "true", "false", "1", "0", "yes", "no"',
    );
  });

  it("rejects an endpoint that is not a URL, naming the variable", () => {
    expect(configError({ AWS_ENDPOINT_URL_SQS: "localhost" }).issues[0]).toMatch(/^AWS_ENDPOINT_URL_SQS="localhost": /);
  });

  it("reports every bad variable at once, one issue each", () => {
    const error = configError({ LABELQ_CONCURRENCY: "abc", LOG_LEVEL: "loud", LABELQ_REDIS_URL: "http://x" });
    expect(error.issues.map((i) => i.split("=")[0]).sort()).toEqual(["LABELQ_CONCURRENCY", "LABELQ_REDIS_URL", "LOG_LEVEL"]);
    for (const issue of error.issues) expect(error.message).toContain(issue);
  });

  it("rejects a heartbeat equal to the visibility timeout, naming both variables", () => {
    const error = configError({ LABELQ_HEARTBEAT_S: "120", LABELQ_VISIBILITY_TIMEOUT_S: "120" });
    expect(error.issues[0]).toMatch(/^LABELQ_HEARTBEAT_S=120: must be shorter than LABELQ_VISIBILITY_TIMEOUT_S \(120\)/);
  });

  it("rejects a heartbeat longer than the visibility timeout", () => {
    expect(configError({ LABELQ_HEARTBEAT_S: "60", LABELQ_VISIBILITY_TIMEOUT_S: "30" }).issues[0]).toContain("LABELQ_VISIBILITY_TIMEOUT_S (30)");
  });

  it("accepts a heartbeat one second shorter than the visibility timeout", () => {
    const config = loadConfig({ LABELQ_HEARTBEAT_S: "29", LABELQ_VISIBILITY_TIMEOUT_S: "30" });
    expect(config.worker).toMatchObject({ heartbeatS: 29, visibilityTimeoutS: 30 });
  });

  it("takes a caller's default log level when LOG_LEVEL is unset, and LOG_LEVEL over it", () => {
    expect(loadConfig({}, { logLevel: "warn" }).log.level).toBe("warn");
    expect(loadConfig({ LOG_LEVEL: "debug" }, { logLevel: "warn" }).log.level).toBe("debug");
    expect(loadConfig({}).log.level).toBe("info");
  });

  it("lists every variable it reads, including the AWS endpoint overrides", () => {
    expect(configVariables).toContain("AWS_ENDPOINT_URL_SQS");
    expect(configVariables).toContain("LABELQ_REQUESTS_QUEUE_URL");
    expect(configVariables).toContain("LOG_LEVEL");
  });
});

describe("requireQueue", () => {
  it("returns the queue URL when it is set", () => {
    const config = loadConfig({ LABELQ_REQUESTS_QUEUE_URL: "http://localhost:4566/000000000000/requests" });
    expect(requireQueue(config, "requests")).toBe("http://localhost:4566/000000000000/requests");
  });

  it("throws a ConfigError naming LABELQ_REQUESTS_QUEUE_URL when the requests queue is unset", () => {
    const error = caught(() => requireQueue(loadConfig({}), "requests"));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues[0]).toMatch(/^LABELQ_REQUESTS_QUEUE_URL: required/);
    expect((error as ConfigError).message).toContain("LABELQ_REQUESTS_QUEUE_URL");
  });

  it("names LABELQ_RESULTS_QUEUE_URL and LABELQ_DLQ_URL for the other queues", () => {
    const config = loadConfig({});
    expect((caught(() => requireQueue(config, "results")) as Error).message).toContain("LABELQ_RESULTS_QUEUE_URL");
    expect((caught(() => requireQueue(config, "dlq")) as Error).message).toContain("LABELQ_DLQ_URL");
  });
});

describe("model settings", () => {
  it("turns the fallback chain off with LABELQ_FALLBACK_MODELS=none", () => {
    expect(loadConfig({ LABELQ_FALLBACK_MODELS: "none" }).models.fallbacks).toEqual([]);
  });

  it("accepts any non-empty model alias and geography: the catalogue is checked where the worker is composed", () => {
    const config = loadConfig({ LABELQ_FALLBACK_MODELS: "gpt-9", LABELQ_MODEL_GEOGRAPHY: "mars", LABELQ_MODEL_CATALOGUE: "/nowhere.json" });
    expect(config.models).toMatchObject({ fallbacks: ["gpt-9"], geography: "mars", catalogueFile: "/nowhere.json" });
  });
});

describe("LABELQ_RESIDENCY", () => {
  it("defaults to geography (the cross-Region profile of AWS_REGION's geography) and takes region or global", () => {
    expect(loadConfig({}).models.residency).toBe("geography");
    expect(loadConfig({ LABELQ_RESIDENCY: "" }).models.residency).toBe("geography");
    for (const value of ["region", "geography", "global"]) expect(loadConfig({ LABELQ_RESIDENCY: value }).models.residency).toBe(value);
  });

  it("rejects any other value, naming the variable, the value and the three it allows", () => {
    const error = caught(() => loadConfig({ LABELQ_RESIDENCY: "vpc" }));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual(['LABELQ_RESIDENCY="vpc": expected "region", "geography" or "global"']);
    expect(() => loadConfig({ LABELQ_RESIDENCY: "Region" })).toThrow(/LABELQ_RESIDENCY="Region"/);
  });
});

describe("quota settings", () => {
  it("reads per-model quotas from LABELQ_QUOTAS JSON and rejects bad JSON or an empty alias by name", () => {
    expect(loadConfig({ LABELQ_QUOTAS: '{"llama3.3-70b":{"rpm":800,"tpm":300000}}' }).limiter.quotas).toEqual({ "llama3.3-70b": { rpm: 800, tpm: 300000 } });
    expect(() => loadConfig({ LABELQ_QUOTAS: "{nope" })).toThrow(/LABELQ_QUOTAS="\{nope": expected JSON/);
    expect(() => loadConfig({ LABELQ_QUOTAS: '{"":{"rpm":1}}' })).toThrow(/LABELQ_QUOTAS.*expected non-empty model aliases as keys/);
  });
});

describe("defaults", () => {
  it("come from one place: the request limits of the wire contract, table names, cache TTL and retry budget", () => {
    const config = loadConfig({});
    expect(config.limits).toEqual(DEFAULTS.limits);
    expect(DEFAULTS.limits).toEqual(DEFAULT_REQUEST_LIMITS);
    expect({ cacheTable: config.store.cacheTable, batchesTable: config.store.batchesTable, bulkTable: config.bulk.table }).toEqual(DEFAULTS.tables);
    expect(config.store.cacheTtlDays).toBe(DEFAULTS.cacheTtlDays);
    expect(config.bedrock.retryBudgetS).toBe(DEFAULTS.retryBudgetS);
  });
});

describe("bulk settings", () => {
  it("turn the bulk path on only with both a bucket and a service role", () => {
    expect(loadConfig({}).bulk.enabled).toBe(false);
    const on = loadConfig({ LABELQ_BULK_BUCKET: "labelq-bulk", LABELQ_BULK_ROLE_ARN: "arn:aws:iam::000000000000:role/labelq-bedrock-batch" });
    expect(on.bulk).toMatchObject({ enabled: true, bucket: "labelq-bulk", prefix: "labelq-bulk/", table: "labelq-bulk", pollS: 60, onJobFailure: "live" });
    expect(() => loadConfig({ LABELQ_BULK_BUCKET: "labelq-bulk" })).toThrow(/LABELQ_BULK_ROLE_ARN: required with LABELQ_BULK_BUCKET/);
  });

  it("name the variable and what it allows when a value is wrong", () => {
    expect(() => loadConfig({ LABELQ_BULK_ROLE_ARN: "my-role" })).toThrow(/LABELQ_BULK_ROLE_ARN="my-role": expected an IAM role ARN/);
    expect(() => loadConfig({ LABELQ_BULK_MAX_RECORDS_PER_FILE: "60000" })).toThrow(/LABELQ_BULK_MAX_RECORDS_PER_FILE="60000": expected an integer from 1 to 50000/);
    expect(() => loadConfig({ LABELQ_BULK_ON_JOB_FAILURE: "retry" })).toThrow(/expected "live" or "dlq"/);
    expect(() => loadConfig({ LABELQ_BULK_JOB_TIMEOUT_H: "12" })).toThrow(/LABELQ_BULK_JOB_TIMEOUT_H/);
  });

  it("read the S3 and Bedrock control-plane endpoints the SDK way", () => {
    const config = loadConfig({ AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9000", AWS_ENDPOINT_URL_BEDROCK: "http://127.0.0.1:9001" });
    expect(config.endpoints).toMatchObject({ s3: "http://127.0.0.1:9000", bedrockControl: "http://127.0.0.1:9001" });
  });
});

const ROLE_ARN = "arn:aws:iam::000000000000:role/labelq-bedrock-batch";

/**
 * Each variable with a valid value other than its default and where it lands in the nested
 * configuration: a variable read but not carried into Config, or carried to the wrong field, fails.
 */
const WIRING: Record<string, { value: string; at: string; is: unknown; with?: Record<string, string> }> = {
  AWS_REGION: { value: "eu-west-1", at: "region", is: "eu-west-1" },
  AWS_ENDPOINT_URL: { value: "http://all:1", at: "endpoints.dynamodb", is: "http://all:1" },
  AWS_ENDPOINT_URL_SQS: { value: "http://sqs:1", at: "endpoints.sqs", is: "http://sqs:1" },
  AWS_ENDPOINT_URL_DYNAMODB: { value: "http://ddb:1", at: "endpoints.dynamodb", is: "http://ddb:1" },
  AWS_ENDPOINT_URL_BEDROCK_RUNTIME: { value: "http://br:1", at: "endpoints.bedrock", is: "http://br:1" },
  AWS_ENDPOINT_URL_BEDROCK: { value: "http://bc:1", at: "endpoints.bedrockControl", is: "http://bc:1" },
  AWS_ENDPOINT_URL_S3: { value: "http://s3:1", at: "endpoints.s3", is: "http://s3:1" },
  AWS_ENDPOINT_URL_STS: { value: "http://sts:1", at: "endpoints.sts", is: "http://sts:1" },
  AWS_ENDPOINT_URL_SERVICE_QUOTAS: { value: "http://sq:1", at: "endpoints.serviceQuotas", is: "http://sq:1" },
  LABELQ_REQUESTS_QUEUE_URL: { value: "http://q/requests", at: "queues.requests", is: "http://q/requests" },
  LABELQ_RESULTS_QUEUE_URL: { value: "http://q/results", at: "queues.results", is: "http://q/results" },
  LABELQ_DLQ_URL: { value: "http://q/dlq", at: "queues.dlq", is: "http://q/dlq" },
  LABELQ_REPLY_TO_ALLOWLIST: { value: "http://q/a", at: "replyToAllowlist", is: ["http://q/a"] },
  LABELQ_CONCURRENCY: { value: "2", at: "worker.concurrency", is: 2 },
  LABELQ_VISIBILITY_TIMEOUT_S: { value: "300", at: "worker.visibilityTimeoutS", is: 300 },
  LABELQ_HEARTBEAT_S: { value: "45", at: "worker.heartbeatS", is: 45 },
  LABELQ_WAIT_TIME_S: { value: "5", at: "worker.waitTimeS", is: 5 },
  LABELQ_SHUTDOWN_TIMEOUT_S: { value: "7", at: "worker.shutdownTimeoutS", is: 7 },
  LABELQ_RETRY_BASE_DELAY_S: { value: "3", at: "worker.retryBaseDelayS", is: 3 },
  LABELQ_MAX_ITEMS: { value: "11", at: "limits.maxItems", is: 11 },
  LABELQ_MAX_TEXT_CHARS: { value: "12", at: "limits.maxTextChars", is: 12 },
  LABELQ_MAX_BODY_BYTES: { value: "2048", at: "limits.maxBodyBytes", is: 2048 },
  LABELQ_PROMPTS_DIR: { value: "/p", at: "prompts.dir", is: "/p" },
  LABELQ_DEFAULT_TAXONOMY: { value: "support", at: "prompts.defaultTaxonomy", is: "support" },
  LABELQ_DEFAULT_PROMPT_VERSION: { value: "v2", at: "prompts.defaultVersion", is: "v2" },
  LABELQ_DEFAULT_MODEL: { value: "claude-haiku", at: "models.default", is: "claude-haiku" },
  LABELQ_ALLOWED_MODELS: { value: "a,b", at: "models.allowed", is: ["a", "b"] },
  LABELQ_FALLBACK_MODELS: { value: "c", at: "models.fallbacks", is: ["c"] },
  LABELQ_MODEL_CATALOGUE: { value: "/c.json", at: "models.catalogueFile", is: "/c.json" },
  LABELQ_MODEL_GEOGRAPHY: { value: "eu", at: "models.geography", is: "eu" },
  LABELQ_MODEL_ROUTES: { value: '{"llama3.3-70b":{"canary":"m"}}', at: "models.routesJson", is: '{"llama3.3-70b":{"canary":"m"}}' },
  LABELQ_RESIDENCY: { value: "region", at: "models.residency", is: "region" },
  LABELQ_FLEX_BEYOND_S: { value: "21600", at: "tiers.flexBeyondS", is: 21_600 },
  LABELQ_FLEX_WITHOUT_DEADLINE: { value: "true", at: "tiers.flexWithoutDeadline", is: true },
  LABELQ_PRIORITY_WITHIN_S: { value: "600", at: "tiers.priorityWithinS", is: 600 },
  LABELQ_CHUNK_SIZE: { value: "13", at: "classify.chunkSize", is: 13 },
  LABELQ_MAX_REASK_ROUNDS: { value: "4", at: "classify.maxReaskRounds", is: 4 },
  LABELQ_MODEL_TIMEOUT_MS: { value: "5000", at: "bedrock.timeoutMs", is: 5000 },
  LABELQ_MODEL_MAX_ATTEMPTS: { value: "6", at: "bedrock.maxAttempts", is: 6 },
  LABELQ_LIMITER_MAX_CONCURRENT: { value: "14", at: "limiter.maxConcurrent", is: 14 },
  LABELQ_QUOTA_RPM: { value: "100", at: "limiter.quota.rpm", is: 100 },
  LABELQ_QUOTA_TPM: { value: "200", at: "limiter.quota.tpm", is: 200 },
  LABELQ_QUOTAS: { value: '{"m":{"tpm":5}}', at: "limiter.quotas", is: { m: { tpm: 5 } } },
  LABELQ_POOLS: { value: '[{"region":"us-west-2","rpm":5}]', at: "limiter.pools", is: [{ region: "us-west-2", rpm: 5, id: "us-west-2" }] },
  LABELQ_QUOTA_WINDOW_S: { value: "15", at: "limiter.windowS", is: 15 },
  LABELQ_EXPECTED_WORKERS: { value: "3", at: "limiter.expectedWorkers", is: 3 },
  LABELQ_RETRY_BUDGET_S: { value: "16", at: "bedrock.retryBudgetS", is: 16 },
  LABELQ_BREAKER_THRESHOLD: { value: "17", at: "bedrock.breakerThreshold", is: 17 },
  LABELQ_BREAKER_COOLDOWN_S: { value: "18", at: "bedrock.breakerCooldownS", is: 18 },
  LABELQ_LIMITER_MIN_TIME_MS: { value: "19", at: "limiter.minTimeMs", is: 19 },
  LABELQ_REDIS_URL: { value: "redis://r:6379", at: "limiter.redisUrl", is: "redis://r:6379" },
  LABELQ_REDIS_AUTH_TOKEN: { value: "s3cret", at: "limiter.redisUrl", is: "redis://:s3cret@r:6379", with: { LABELQ_REDIS_URL: "redis://r:6379" } },
  LABELQ_REDIS_USERNAME: { value: "bob", at: "limiter.redisUrl", is: "redis://bob:pw@r:6379", with: { LABELQ_REDIS_URL: "redis://r:6379", LABELQ_REDIS_AUTH_TOKEN: "pw" } },
  LABELQ_LIMITER_ID: { value: "fleet", at: "limiter.id", is: "fleet" },
  LABELQ_CACHE_TABLE: { value: "my-cache", at: "store.cacheTable", is: "my-cache" },
  LABELQ_BATCHES_TABLE: { value: "my-batches", at: "store.batchesTable", is: "my-batches" },
  LABELQ_CACHE_TTL_DAYS: { value: "20", at: "store.cacheTtlDays", is: 20 },
  LABELQ_BATCH_RECORD_TTL_DAYS: { value: "21", at: "store.batchRecordTtlDays", is: 21 },
  LABELQ_BULK_BUCKET: { value: "my-bucket", at: "bulk.bucket", is: "my-bucket", with: { LABELQ_BULK_ROLE_ARN: ROLE_ARN } },
  LABELQ_BULK_PREFIX: { value: "p/q/", at: "bulk.prefix", is: "p/q/" },
  LABELQ_BULK_ROLE_ARN: { value: ROLE_ARN, at: "bulk.roleArn", is: ROLE_ARN, with: { LABELQ_BULK_BUCKET: "my-bucket" } },
  LABELQ_BULK_TABLE: { value: "my-bulk", at: "bulk.table", is: "my-bulk" },
  LABELQ_BULK_POLL_S: { value: "22", at: "bulk.pollS", is: 22 },
  LABELQ_BULK_GATHER_S: { value: "23", at: "bulk.gatherS", is: 23 },
  LABELQ_BULK_MAX_RECORDS_PER_FILE: { value: "24", at: "bulk.limits.maxRecordsPerFile", is: 24 },
  LABELQ_BULK_MAX_RECORDS_PER_JOB: { value: "25", at: "bulk.limits.maxRecordsPerJob", is: 25 },
  LABELQ_BULK_MAX_FILE_BYTES: { value: "26000", at: "bulk.limits.maxFileBytes", is: 26_000 },
  LABELQ_BULK_MAX_JOB_BYTES: { value: "999999999", at: "bulk.limits.maxJobBytes", is: 999_999_999 },
  LABELQ_BULK_MAX_JOBS: { value: "27", at: "bulk.limits.maxJobs", is: 27 },
  LABELQ_BULK_MAX_WAIT_S: { value: "7200", at: "bulk.maxWaitS", is: 7_200 },
  LABELQ_BULK_MIN_RECORDS: { value: "28", at: "bulk.limits.minRecords", is: 28 },
  LABELQ_BULK_JOB_TIMEOUT_H: { value: "48", at: "bulk.jobTimeoutH", is: 48 },
  LABELQ_BULK_MIN_BACKLOG_S: { value: "29", at: "bulk.policy.minBacklogS", is: 29 },
  LABELQ_BULK_TURNAROUND_S: { value: "600", at: "bulk.policy.turnaroundS", is: 600 },
  LABELQ_BULK_ON_JOB_FAILURE: { value: "dlq", at: "bulk.onJobFailure", is: "dlq" },
  LABELQ_HTTP_PORT: { value: "9500", at: "http.port", is: 9500 },
  LOG_LEVEL: { value: "debug", at: "log.level", is: "debug" },
  LABELQ_LOG_TEXTS: { value: "true", at: "log.logTexts", is: true },
  LABELQ_LOG_PRETTY: { value: "true", at: "log.pretty", is: true },
};

function at(config: Config, dotted: string): unknown {
  return dotted.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], config);
}

describe("the nested configuration the environment becomes", () => {
  it("has exactly these settings, each at its default, when the environment is empty", () => {
    expect(loadConfig({})).toStrictEqual({
      region: "us-east-1",
      endpoints: { sqs: undefined, dynamodb: undefined, bedrock: undefined, s3: undefined, bedrockControl: undefined, sts: undefined, serviceQuotas: undefined },
      queues: { requests: undefined, results: undefined, dlq: undefined },
      replyToAllowlist: [],
      worker: { concurrency: 8, visibilityTimeoutS: 120, heartbeatS: 30, waitTimeS: 20, shutdownTimeoutS: 30, retryBaseDelayS: 10 },
      limits: { maxItems: 100, maxTextChars: 5_000, maxBodyBytes: 1_000_000 },
      prompts: { dir: PROMPTS_DIR, defaultTaxonomy: "product-feedback", defaultVersion: "prod" },
      models: { default: "llama3.3-70b", allowed: [], fallbacks: ["claude-sonnet"], catalogueFile: undefined, geography: undefined, routesJson: undefined, residency: "geography" },
      classify: { chunkSize: 50, maxReaskRounds: 2 },
      tiers: { flexBeyondS: undefined, flexWithoutDeadline: false, priorityWithinS: undefined },
      bedrock: { timeoutMs: 120_000, maxAttempts: 3, retryBudgetS: 60, breakerThreshold: 5, breakerCooldownS: 30 },
      limiter: {
        maxConcurrent: 8,
        minTimeMs: 0,
        redisUrl: undefined,
        id: "labelq",
        quota: { rpm: 0, tpm: 0 },
        quotas: {},
        windowS: 60,
        expectedWorkers: 1,
      },
      store: { cacheTable: "labelq-label-cache", batchesTable: "labelq-batches", cacheTtlDays: 30, batchRecordTtlDays: 7 },
      log: { level: "info", logTexts: false, pretty: undefined },
      http: { port: 9400 },
      bulk: {
        enabled: false,
        bucket: undefined,
        prefix: "labelq-bulk/",
        roleArn: undefined,
        table: "labelq-bulk",
        pollS: 60,
        gatherS: 900,
        limits: {
          maxRecordsPerFile: 50_000,
          maxRecordsPerJob: 50_000,
          maxFileBytes: 256_000_000,
          maxJobBytes: 5_000_000_000,
          maxJobs: 20,
          minRecords: undefined,
        },
        maxWaitS: 3_600,
        jobTimeoutH: 24,
        policy: { minBacklogS: 3_600, turnaroundS: 21_600 },
        onJobFailure: "live",
      },
    });
  });

  it("has a wiring case for every variable it reads, and no case for one it does not", () => {
    expect(Object.keys(WIRING).sort()).toEqual([...configVariables].sort());
  });

  it.each(Object.entries(WIRING))("carries %s into its nested field", (variable, { value, at: dotted, is, with: others }) => {
    const config = loadConfig({ ...others, [variable]: value });
    expect(at(config, dotted)).toEqual(is);
    expect(at(loadConfig({}), dotted)).not.toEqual(is);
  });

  it('turns a table off with "off": the cache, the batch records, and with its table the bulk path', () => {
    const config = loadConfig({
      LABELQ_CACHE_TABLE: "off",
      LABELQ_BATCHES_TABLE: "off",
      LABELQ_BULK_TABLE: "off",
      LABELQ_BULK_BUCKET: "my-bucket",
      LABELQ_BULK_ROLE_ARN: ROLE_ARN,
    });
    expect(config.store).toMatchObject({ cacheTable: undefined, batchesTable: undefined });
    expect(config.bulk).toMatchObject({ enabled: false, table: undefined, bucket: "my-bucket" });
  });

  it("types an unset setting as an optional key, as callers and test fakes write a Config", () => {
    expectTypeOf<Config["queues"]>().toEqualTypeOf<{ requests?: string; results?: string; dlq?: string }>();
    expectTypeOf<Config["endpoints"]>().toEqualTypeOf<{ sqs?: string; dynamodb?: string; bedrock?: string; s3?: string; bedrockControl?: string; sts?: string; serviceQuotas?: string }>();
    expectTypeOf<Config["store"]>().toEqualTypeOf<{ cacheTable?: string; batchesTable?: string; cacheTtlDays: number; batchRecordTtlDays: number }>();
    expectTypeOf<Config["log"]>().toEqualTypeOf<{ level: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent"; logTexts: boolean; pretty?: boolean }>();
    expectTypeOf<BulkConfig["limits"]["minRecords"]>().toEqualTypeOf<number | undefined>();
    expectTypeOf<BulkConfig["onJobFailure"]>().toEqualTypeOf<"live" | "dlq">();
    const fake: Pick<Config, "queues" | "endpoints"> = { queues: {}, endpoints: {} };
    expect(fake.queues.requests).toBeUndefined();
  });
});

describe("errors that name the variables to fix", () => {
  it("name every missing queue variable in one ConfigError", () => {
    const error = caught(() => requireQueues(loadConfig({}), ["requests", "results", "dlq"]));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.split(":")[0])).toEqual(["LABELQ_REQUESTS_QUEUE_URL", "LABELQ_RESULTS_QUEUE_URL", "LABELQ_DLQ_URL"]);
  });

  it("return every queue URL asked for when all are set", () => {
    const config = loadConfig({ LABELQ_REQUESTS_QUEUE_URL: "http://q/r", LABELQ_RESULTS_QUEUE_URL: "http://q/s", LABELQ_DLQ_URL: "http://q/d" });
    expect(requireQueues(config, ["requests", "dlq"])).toEqual({ requests: "http://q/r", dlq: "http://q/d" });
  });

  it("report settings that do not fit together all at once, each naming its variable", () => {
    const error = configError({
      LABELQ_BULK_BUCKET: "my-bucket",
      LABELQ_BULK_MAX_FILE_BYTES: "5000",
      LABELQ_BULK_MAX_JOB_BYTES: "4000",
      LABELQ_HEARTBEAT_S: "120",
    });
    expect(error.issues).toEqual([
      "LABELQ_BULK_ROLE_ARN: required with LABELQ_BULK_BUCKET (the bulk path needs both a bucket and the service role Bedrock assumes)",
      "LABELQ_BULK_MAX_FILE_BYTES=5000: must not exceed LABELQ_BULK_MAX_JOB_BYTES (4000)",
      "LABELQ_HEARTBEAT_S=120: must be shorter than LABELQ_VISIBILITY_TIMEOUT_S (120) so the heartbeat extends visibility before it lapses",
    ]);
  });

  it("name a bucket missing beside a service role", () => {
    expect(configError({ LABELQ_BULK_ROLE_ARN: ROLE_ARN }).issues).toEqual([
      "LABELQ_BULK_BUCKET: required with LABELQ_BULK_ROLE_ARN (the bulk path needs both a bucket and the service role Bedrock assumes)",
    ]);
  });

  it("name the variable, its value and the place inside it for a bad value within LABELQ_QUOTAS", () => {
    const issue = configError({ LABELQ_QUOTAS: '{"m":{"rpm":-1}}' }).issues[0] ?? "";
    expect(issue.startsWith('LABELQ_QUOTAS="{\\"m\\":{\\"rpm\\":-1}}": m.rpm: ')).toBe(true);
  });

  it("apply a caller's default log level when LOG_LEVEL is empty", () => {
    expect(loadConfig({ LOG_LEVEL: "" }, { logLevel: "warn" }).log.level).toBe("warn");
  });
});
