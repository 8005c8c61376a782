import type { Logger } from "pino";
import type { AwsClients } from "../../adapters/aws-clients.ts";
import { CircuitBreakers } from "../../core/classify/circuit-breaker.ts";
import { loadModelRoutes } from "./model-routes-setup.ts";
import { labelRoutedBatch, type RoutedBatchDeps, type RoutedBatchSettings } from "../../core/classify/label-routed-batch.ts";
import { DEFAULT_RETRY_POLICY } from "../../core/classify/retry-policy.ts";
import { type Config, requireQueue } from "../../core/config/config.ts";
import { BedrockProvider, PooledBedrockProvider } from "../../adapters/bedrock/bedrock-provider.ts";
import { createPooledLimiter } from "../../adapters/limiter/pool-setup.ts";
import { PooledLimiter } from "../../adapters/limiter/pooled-limiter.ts";
import { CatalogueError, GEOGRAPHIES, type Geography, geographyOf, loadModelCatalogue, type ModelCatalogue } from "../../core/models/model-catalogue.ts";
import type { ModelProvider } from "../../core/models/model-provider.ts";
import { QuotaLimiter } from "../../adapters/limiter/quota-limiter.ts";
import { BEDROCK_WINDOW } from "../../adapters/limiter/quota-window.ts";
import type { RateLimiter } from "../../core/quota/rate-limiter.ts";
import { drainQuota, poolQuota } from "../../core/quota/pool-quota.ts";
import { ConfigError } from "../../core/errors/errors.ts";
import { runEveryStep } from "../../core/util/run-every-step.ts";
import { type HealthServer, startHealthServer } from "./health-server.ts";
import { Metrics } from "../../core/observability/metrics.ts";
import { workerHealthChecks } from "./worker-health.ts";
import { PromptRegistry } from "../../core/prompts/prompt-registry.ts";
import { createMessageHandler, type MessageHandler } from "./message-handler.ts";
import { WorkerPool } from "./worker-pool.ts";
import { DynamoIdempotencyStore } from "../../adapters/dynamodb/dynamo-idempotency-store.ts";
import { DynamoLabelCache } from "../../adapters/dynamodb/dynamo-label-cache.ts";
import { DynamoShadowSummary } from "../../adapters/dynamodb/dynamo-shadow-summary.ts";
import { randomUUID } from "node:crypto";
import { BulkLoop } from "../bulk/bulk-loop.ts";
import { BulkRouter } from "../bulk/bulk-router.ts";
import { DynamoBulkStore } from "../../adapters/dynamodb/dynamo-bulk-store.ts";
import { BedrockJobControl, type JobControl } from "../../adapters/bedrock/job-control.ts";
import { type ObjectStore, S3ObjectStore } from "../../adapters/s3/object-store.ts";
import { requestBacklog } from "../bulk/request-backlog.ts";
import { SqsOutbox } from "../bulk/outbox.ts";
import type { LabelCache } from "../../core/cache/label-cache.ts";
import type { BulkContext } from "../bulk/bulk-context.ts";
import type { BulkStore } from "../../core/bulk/bulk-store.ts";
import type { LabelRequest } from "../../core/contracts/request.ts";

export interface Worker {
  pool: WorkerPool;
  /** The bulk loop (batch inference jobs), when the bulk path is configured. */
  bulk: BulkLoop | undefined;
  limiter: RateLimiter;
  cache: LabelCache | undefined;
  metrics: Metrics;
  /** Each model's circuit breaker, for probes and operators. */
  breakers: CircuitBreakers;
  /** The port of /metrics, /healthz and /readyz once started, when the worker serves them. */
  readonly httpPort: number | undefined;
  /**
   * Make the health server listen (when configured), then start consuming: the probes answer
   * before the first message is taken. Idempotent. When the server cannot listen, nothing is
   * consumed, the worker is closed and a ConfigError names LABELQ_HTTP_PORT.
   */
  start(): Promise<void>;
  /** Stop polling, drain or return in-flight batches, close the health server and the limiter. Every step runs even if one fails; every call waits for the same close. */
  close(): Promise<void>;
}

/** What the composition root may be given instead of building it from config. */
export interface WorkerOverrides {
  provider?: ModelProvider;
  bulk?: BulkOverrides;
  metrics?: Metrics;
  /** Serve /metrics, /healthz and /readyz on this port (0 picks a free one); none when absent. */
  http?: { port: number; host?: string };
}

/**
 * The model catalogue the configuration names: the packaged models plus those of
 * LABELQ_MODEL_CATALOGUE, for LABELQ_MODEL_GEOGRAPHY or else AWS_REGION's geography, with
 * every alias the configuration names checked against it. Throws a ConfigError naming the
 * variable. This is where config meets the model catalogue: config itself knows nothing of it.
 */
export function modelCatalogueFor(config: Pick<Config, "region" | "models" | "limiter">): ModelCatalogue {
  const geography = config.models.geography ?? geographyOf(config.region);
  if (!isGeography(geography)) {
    throw new ConfigError([`LABELQ_MODEL_GEOGRAPHY=${JSON.stringify(geography)}: expected one of ${GEOGRAPHIES.map((g) => `"${g}"`).join(", ")}`]);
  }
  let catalogue: ModelCatalogue;
  try {
    catalogue = loadModelCatalogue({ geography, residency: config.models.residency, region: config.region, overrideFile: config.models.catalogueFile });
  } catch (error) {
    if (!(error instanceof CatalogueError)) throw error;
    throw new ConfigError(error.problems.map((i) => `LABELQ_MODEL_CATALOGUE=${JSON.stringify(config.models.catalogueFile ?? "")}: ${i}`), { cause: error });
  }
  const named = [config.models.default, ...config.models.allowed, ...config.models.fallbacks, ...Object.keys(config.limiter.quotas)];
  const unknown = [...new Set(named.filter((alias) => !catalogue.find(alias)))];
  if (unknown.length > 0) {
    throw new ConfigError([
      `LABELQ_DEFAULT_MODEL / LABELQ_ALLOWED_MODELS / LABELQ_FALLBACK_MODELS / LABELQ_QUOTAS: ${unknown.map((u) => catalogue.whyNot(u)).join("; ")}`,
    ]);
  }
  return catalogue;
}

function isGeography(value: string): value is Geography {
  return (GEOGRAPHIES as readonly string[]).includes(value);
}

/** What labelling a batch needs, built from config, and the parts callers observe or close. */
export interface LabelCore {
  settings: RoutedBatchSettings;
  deps: RoutedBatchDeps;
  limiter: RateLimiter;
  cache: LabelCache | undefined;
  metrics: Metrics;
  breakers: CircuitBreakers;
}

/** What a caller of createLabelCore may change. */
export interface LabelCoreOverrides extends Pick<WorkerOverrides, "provider" | "metrics"> {
  /** Attach the label cache when a table is configured; default true. */
  cache?: boolean;
  /** Let a request choose any catalogue model, not only LABELQ_ALLOWED_MODELS (an evaluation compares models). */
  allowEveryModel?: boolean;
}

/**
 * Build the labelling core from config: model catalogue, limiter, provider, cache, circuit
 * breakers and retry policy. The one composition behind the worker, the Lambda handler and
 * `labelq eval`, so all three label the same way.
 */
export function createLabelCore(config: Config, clients: AwsClients, logger: Logger, overrides: LabelCoreOverrides = {}): LabelCore {
  const catalogue = modelCatalogueFor(config);
  const metrics = overrides.metrics ?? new Metrics();
  const settings = labelBatchSettings(config, catalogue, overrides.allowEveryModel ?? false);
  const { limiter, provider } = createLimiterAndProvider(config, catalogue, clients, logger, overrides.provider);
  const cache = (overrides.cache ?? true) && config.store.cacheTable ? new DynamoLabelCache(clients.dynamo, config.store.cacheTable, logger) : undefined;
  const breakers = new CircuitBreakers({ threshold: config.bedrock.breakerThreshold, cooldownMs: config.bedrock.breakerCooldownS * 1000 });
  const retry = { ...DEFAULT_RETRY_POLICY, maxAttempts: config.bedrock.maxAttempts };
  const shadow = config.store.batchesTable ? new DynamoShadowSummary(clients.dynamo, config.store.batchesTable) : undefined;
  const deps: RoutedBatchDeps = { prompts: new PromptRegistry(config.prompts.dir), limiter, provider, logger, cache, metrics, breakers, retry, shadow };
  return { settings, deps, limiter, cache, metrics, breakers };
}

/** The labelling settings from config; `allowEveryModel` lets a request choose any catalogue model. */
function labelBatchSettings(config: Config, catalogue: ModelCatalogue, allowEveryModel: boolean): RoutedBatchSettings {
  const modelRoutes = loadModelRoutes(config.models.routesJson, catalogue);
  return {
    ...(modelRoutes ? { modelRoutes } : {}),
    defaultTaxonomy: config.prompts.defaultTaxonomy,
    defaultPromptVersion: config.prompts.defaultVersion,
    defaultModel: config.models.default,
    allowedModels: allowEveryModel ? catalogue.models.map((m) => m.alias) : config.models.allowed,
    fallbackModels: config.models.fallbacks,
    catalogue,
    chunkSize: config.classify.chunkSize,
    maxReaskRounds: config.classify.maxReaskRounds,
    cacheTtlDays: config.store.cacheTtlDays,
    retryBudgetS: config.bedrock.retryBudgetS,
    maxTextChars: config.limits.maxTextChars,
    tierPolicy: config.tiers,
  };
}

/**
 * The quota limiter and the model provider from config. Without LABELQ_POOLS: one limiter in
 * AWS_REGION (each model's quota, this worker's share of it, Bedrock's window) and AWS_REGION's
 * client. With it: a limiter per pool behind the pooled limiter, and a provider that calls each
 * pool's Region.
 */
function createLimiterAndProvider(
  config: Config,
  catalogue: ModelCatalogue,
  clients: AwsClients,
  logger: Logger,
  override: ModelProvider | undefined,
): { limiter: RateLimiter; provider: ModelProvider } {
  const base = {
    maxConcurrent: config.limiter.maxConcurrent,
    minTimeMs: config.limiter.minTimeMs,
    redisUrl: config.limiter.redisUrl,
    localShare: 1 / config.limiter.expectedWorkers,
    timing: { ...BEDROCK_WINDOW, windowMs: config.limiter.windowS * 1000 },
  };
  if (config.limiter.pools) {
    const limiter = createPooledLimiter(config, config.limiter.pools, catalogue, base, logger);
    return { limiter, provider: override ?? new PooledBedrockProvider((pool) => clients.bedrockForPool(pool), clients.bedrock) };
  }
  const limiter = new QuotaLimiter({ ...base, id: config.limiter.id, quotaFor: (model) => poolQuota(config.limiter, {}, model) }, logger);
  return { limiter, provider: override ?? new BedrockProvider(clients.bedrock) };
}

/** The message handler and the parts it is built from. */
export interface MessagePipeline {
  handler: MessageHandler;
  /** The bulk loop, when LABELQ_BULK_BUCKET and LABELQ_BULK_ROLE_ARN are set (not started). */
  bulk: BulkLoop | undefined;
  limiter: RateLimiter;
  cache: LabelCache | undefined;
  metrics: Metrics;
  breakers: CircuitBreakers;
}

/**
 * Build the message handler and everything it needs from config: the one composition behind
 * both the worker pool and the Lambda handler (src/lambda), so both label the same way.
 */
export function createMessagePipeline(
  config: Config,
  clients: AwsClients,
  logger: Logger,
  overrides: Pick<WorkerOverrides, "provider" | "metrics" | "bulk"> & {
    /** Extend each message's visibility from the handler (the worker pool); Lambda's event source owns it there. */
    renewVisibility?: boolean;
  } = {},
): MessagePipeline {
  const { settings, deps, limiter, cache, metrics, breakers } = createLabelCore(config, clients, logger, overrides);
  const idempotency = config.store.batchesTable
    ? new DynamoIdempotencyStore(clients.dynamo, config.store.batchesTable, config.store.batchRecordTtlDays)
    : undefined;
  const label = (request: LabelRequest, receivedAt: Date, signal: AbortSignal) => labelRoutedBatch(request, receivedAt, settings, deps, signal);
  const bulkParts = createBulkParts(config, clients, logger, { settings, prompts: deps.prompts, idempotency, cache, metrics, label, ...overrides.bulk });

  const handler = createMessageHandler(
    {
      requestsQueueUrl: requireQueue(config, "requests"),
      resultsQueueUrl: requireQueue(config, "results"),
      dlqUrl: requireQueue(config, "dlq"),
      replyToAllowlist: config.replyToAllowlist,
      limits: config.limits,
      retryBaseDelayS: config.worker.retryBaseDelayS,
      // The lease lives as long as the message's visibility and is renewed with it.
      leaseS: config.worker.visibilityTimeoutS,
      leaseRenewS: config.worker.heartbeatS,
      visibility: overrides.renewVisibility ? { timeoutS: config.worker.visibilityTimeoutS, everyS: config.worker.heartbeatS } : undefined,
    },
    label,
    { sqs: clients.sqs, logger, idempotency, metrics, bulk: bulkParts?.router },
  );
  return { handler, limiter, cache, metrics, breakers, bulk: bulkParts?.loop };
}

/** What a caller may put in place of the bulk path's AWS-backed parts (tests, the demo). */
export interface BulkOverrides {
  control?: JobControl;
  objects?: ObjectStore;
  /** Identifies this worker in leases (a restarted worker in a test gets a new one). */
  owner?: string;
  /** Wrap the DynamoDB store (a test makes one write fail, as a crash would). */
  wrapStore?: (store: BulkStore) => BulkStore;
}

/**
 * The bulk path from config: the router at the door of the message handler, and the loop that
 * gathers, submits, polls and collects jobs. Undefined when the bulk path is not configured.
 */
function createBulkParts(
  config: Config,
  clients: AwsClients,
  logger: Logger,
  parts: Pick<BulkContext, "settings" | "prompts" | "idempotency" | "cache" | "metrics" | "label"> & BulkOverrides,
): { router: BulkRouter; loop: BulkLoop } | undefined {
  const bulk = config.bulk;
  if (!bulk.enabled || !bulk.bucket || !bulk.table) return undefined;
  const dynamoStore = new DynamoBulkStore(clients.dynamo, bulk.table, { recordTtlDays: config.store.batchRecordTtlDays });
  const store = parts.wrapStore ? parts.wrapStore(dynamoStore) : dynamoStore;
  const log = logger.child({ component: "bulk" });
  const catalogue = parts.settings.catalogue ?? modelCatalogueFor(config);
  const router = new BulkRouter({
    store,
    metrics: parts.metrics,
    prompts: parts.prompts,
    settings: parts.settings,
    // The quota that drains the backlog: over LABELQ_POOLS, the sum of the pools that may carry the model.
    quotaFor: (alias) => drainQuota(config, catalogue, alias),
    backlog: requestBacklog(clients.sqs, requireQueue(config, "requests"), log),
    bulkEnabled: true,
    policy: { ...bulk.policy, gatherS: bulk.gatherS },
  });
  const loop = new BulkLoop(
    {
      ...parts,
      store,
      objects: parts.objects ?? new S3ObjectStore(clients.s3, bulk.bucket),
      control: parts.control ?? new BedrockJobControl(clients.bedrockControl),
      bulk,
      outbox: new SqsOutbox(clients.sqs, { requests: requireQueue(config, "requests"), dlq: requireQueue(config, "dlq") }),
      owner: parts.owner ?? `bulk-${randomUUID()}`,
      leaseMs: config.worker.visibilityTimeoutS * 1000,
      logger: log,
      now: Date.now,
    },
    bulk.pollS * 1000,
  );
  return { router, loop };
}

/** Composition root: build the worker pool and everything it needs from config. */
export function createWorker(
  config: Config,
  clients: AwsClients,
  logger: Logger,
  overrides: WorkerOverrides = {},
): Worker {
  const pipeline = createMessagePipeline(config, clients, logger, { ...overrides, renewVisibility: true });
  const { limiter, cache, metrics, breakers, bulk } = pipeline;
  const pool = createPool(config, clients, pipeline, logger);
  observeWorkerGauges(pipeline, pool);
  const lifecycle = workerLifecycle(config, clients, logger, overrides.http, { pool, bulk, limiter, metrics });
  return {
    pool,
    bulk,
    limiter,
    cache,
    metrics,
    breakers,
    get httpPort() {
      return lifecycle.httpPort();
    },
    start: lifecycle.start,
    close: lifecycle.close,
  };
}

/** The pool that consumes the requests queue with the pipeline's handler, receiving only what the quota lets start soon. */
function createPool(config: Config, clients: AwsClients, pipeline: MessagePipeline, logger: Logger): WorkerPool {
  const { limiter } = pipeline;
  return new WorkerPool(
    {
      queueUrl: requireQueue(config, "requests"),
      concurrency: config.worker.concurrency,
      visibilityTimeoutS: config.worker.visibilityTimeoutS,
      waitTimeS: config.worker.waitTimeS,
      shutdownTimeoutS: config.worker.shutdownTimeoutS,
      useClientEndpoint: config.endpoints.sqs !== undefined,
      // Back-pressure: receive only what the quota lets start soon; the rest waits in SQS for any worker.
      beforeReceive: (signal) => limiter.whenCanStart([config.models.default, ...config.models.fallbacks], signal),
    },
    clients.sqs,
    pipeline.handler,
    logger,
  );
}

/** Report the pool's, limiter's, cache's and breakers' state as gauges on /metrics. */
function observeWorkerGauges(pipeline: MessagePipeline, pool: WorkerPool): void {
  const { limiter, cache, breakers } = pipeline;
  pipeline.metrics.observeGauges({
    inFlight: () => pool.inFlight(),
    limiterQueued: () => limiter.queued(),
    cacheErrors: () => cache?.stats().errors ?? 0,
    rateFactors: () => limiter.rateFactors(),
    breakers: () => Object.fromEntries(breakers.models().map((m) => [m, breakers.state(m)])),
    ...(limiter instanceof PooledLimiter ? { pools: () => limiter.availability(), poolDays: () => limiter.dayBudgets() } : {}),
  });
}

/** What a worker starts and closes. */
type Running = Pick<Worker, "pool" | "bulk" | "limiter" | "metrics">;

/**
 * A worker's start (health server first, then the pool and the bulk loop) and close (every step
 * even if one fails); both are idempotent, and a failed start closes what it had opened.
 */
function workerLifecycle(
  config: Config,
  clients: AwsClients,
  logger: Logger,
  http: WorkerOverrides["http"],
  { pool, bulk, limiter, metrics }: Running,
): { start: () => Promise<void>; close: () => Promise<void>; httpPort: () => number | undefined } {
  let health: HealthServer | undefined;
  let starting: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= runEveryStep([
      // Readiness turns 503 as soon as the pool stops; the server stays up until it is drained.
      () => pool.stop(),
      () => bulk?.stop(),
      () => health?.close(),
      () => limiter.close(),
    ]).catch((error: unknown) => {
      logger.error({ err: error }, "error while closing the worker");
      throw error;
    });
    return closing;
  };
  const start = (): Promise<void> => {
    starting ??= (async () => {
      if (http) health = await listenHealth(config, clients, logger, { pool, metrics }, http);
      pool.start();
      bulk?.start();
    })().catch(async (error: unknown) => {
      await close().catch(() => {});
      throw error;
    });
    return starting;
  };
  return { start, close, httpPort: () => health?.port };
}

/** Serve /metrics, /healthz and /readyz; a port it cannot listen on is a ConfigError naming LABELQ_HTTP_PORT. */
async function listenHealth(
  config: Config,
  clients: AwsClients,
  logger: Logger,
  { pool, metrics }: Pick<Running, "pool" | "metrics">,
  http: { port: number; host?: string },
): Promise<HealthServer> {
  const checks = workerHealthChecks(pool, clients.sqs, requireQueue(config, "requests"), config.worker.waitTimeS);
  try {
    return await startHealthServer(http, metrics, checks, logger);
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError([`LABELQ_HTTP_PORT=${http.port}: the health server cannot listen (${why}); choose another port, or 0 for a free one`], { cause: error });
  }
}

/** Build a worker from config and start it (see Worker.start): the one way a process runs a worker. */
export async function startWorker(config: Config, clients: AwsClients, logger: Logger, overrides: WorkerOverrides = {}): Promise<Worker> {
  const worker = createWorker(config, clients, logger, overrides);
  await worker.start();
  return worker;
}
