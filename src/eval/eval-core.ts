import type { Logger } from "pino";
import type { AwsClients } from "../aws-clients.ts";
import { CircuitBreakers } from "../classify/circuit-breaker.ts";
import type { LabelBatchDeps, LabelBatchSettings } from "../classify/label-batch.ts";
import { DEFAULT_RETRY_POLICY } from "../classify/retry-policy.ts";
import type { Config } from "../config/config.ts";
import { BedrockProvider } from "../llm/bedrock-provider.ts";
import { MODELS } from "../llm/model-registry.ts";
import type { ModelProvider } from "../llm/model-provider.ts";
import { QuotaLimiter } from "../limiter/quota-limiter.ts";
import { Metrics } from "../observability/metrics.ts";
import { PromptRegistry } from "../prompts/prompt-registry.ts";
import { DynamoLabelCache } from "../store/dynamo-label-cache.ts";

/** The labelling core as the worker builds it, for evaluation runs. */
export interface EvalCore {
  settings: LabelBatchSettings;
  deps: LabelBatchDeps;
  /** This run's own metrics (retries, fallbacks), read back for the report. */
  metrics: Metrics;
  close(): Promise<void>;
}

/**
 * Build what `labelBatch` needs from config exactly as createWorker does (limiter, fallback
 * models, circuit breakers, retry policy), so an evaluation measures the path production
 * texts take. Two differences, both on purpose: every registry model may be chosen (the
 * evaluator picks models to compare, not a request), and the label cache is attached only
 * when asked, since cached labels would measure an earlier run.
 */
export function createEvalCore(config: Config, clients: AwsClients, logger: Logger, options: { cache: boolean; provider?: ModelProvider }): EvalCore {
  const metrics = new Metrics({ defaultMetrics: false });
  const settings: LabelBatchSettings = {
    defaultTaxonomy: config.prompts.defaultTaxonomy,
    defaultPromptVersion: config.prompts.defaultVersion,
    defaultModel: config.models.default,
    allowedModels: MODELS.map((m) => m.alias),
    fallbackModels: config.models.fallbacks,
    chunkSize: config.classify.chunkSize,
    maxReaskRounds: config.classify.maxReaskRounds,
    cacheTtlDays: config.store.cacheTtlDays,
    retryBudgetS: config.bedrock.retryBudgetS,
  };
  const limiter = new QuotaLimiter(
    {
      maxConcurrent: config.limiter.maxConcurrent,
      minTimeMs: config.limiter.minTimeMs,
      redisUrl: config.limiter.redisUrl,
      id: config.limiter.id,
      quotaFor: (model) => ({ ...config.limiter.quota, ...config.limiter.quotas[model] }),
      localShare: 1 / config.limiter.expectedWorkers,
    },
    logger,
  );
  const cache = options.cache && config.store.cacheTable ? new DynamoLabelCache(clients.dynamo, config.store.cacheTable, logger) : undefined;
  const deps: LabelBatchDeps = {
    prompts: new PromptRegistry(config.prompts.dir),
    limiter,
    provider: options.provider ?? new BedrockProvider(clients.bedrock),
    logger,
    cache,
    metrics,
    breakers: new CircuitBreakers({ threshold: config.bedrock.breakerThreshold, cooldownMs: config.bedrock.breakerCooldownS * 1000 }),
    retry: { ...DEFAULT_RETRY_POLICY, maxAttempts: config.bedrock.maxAttempts },
  };
  return { settings, deps, metrics, close: () => limiter.close() };
}
