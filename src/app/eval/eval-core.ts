import type { Logger } from "pino";
import type { AwsClients } from "../../adapters/aws-clients.ts";
import type { RoutedBatchDeps, RoutedBatchSettings } from "../../core/classify/label-routed-batch.ts";
import type { Config } from "../../core/config/config.ts";
import type { ModelProvider } from "../../core/models/model-provider.ts";
import { Metrics } from "../../core/observability/metrics.ts";
import { createLabelCore } from "../worker/worker.ts";

/** The labelling core as the worker builds it, for evaluation runs. */
export interface EvalCore {
  /** With LABELQ_MODEL_ROUTES' routes, when set: a cascade is evaluated as the worker runs it. */
  settings: RoutedBatchSettings;
  deps: RoutedBatchDeps;
  /** This run's own metrics (retries, fallbacks), read back for the report. */
  metrics: Metrics;
  close(): Promise<void>;
}

/**
 * The worker's own labelling core (createLabelCore: model catalogue, limiter, fallback models,
 * circuit breakers, retry policy), so an evaluation measures the path production texts take.
 * Three differences, all on purpose: every catalogue model may be chosen (the evaluator picks
 * models to compare, not a request); the label cache is attached only when asked, since
 * cached labels would measure an earlier run; and no canary shadow agreement is recorded, so
 * an evaluation does not count in `labelq eval canary`'s production figures.
 */
export function createEvalCore(config: Config, clients: AwsClients, logger: Logger, options: { cache: boolean; provider?: ModelProvider }): EvalCore {
  const core = createLabelCore(config, clients, logger, {
    provider: options.provider,
    metrics: new Metrics({ defaultMetrics: false }),
    cache: options.cache,
    allowEveryModel: true,
  });
  return { settings: core.settings, deps: { ...core.deps, shadow: undefined }, metrics: core.metrics, close: () => core.limiter.close() };
}
