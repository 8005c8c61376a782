import { describe, expect, it } from "vitest";
import { configVariables, DEFAULTS, loadConfig, requireQueue } from "../../src/core/config/config.ts";
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
    expect(config.models).toEqual({ default: "llama3.3-70b", allowed: [], fallbacks: ["claude-sonnet"], catalogueFile: undefined, geography: undefined });
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
    });
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
    });
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
