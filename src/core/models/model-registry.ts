import { loadModelCatalogue, type ModelSpec } from "./model-catalogue.ts";
import type { ServiceTier } from "./service-tiers.ts";

export type { ModelSpec } from "./model-catalogue.ts";

/**
 * The packaged catalogue in the us geography under the default residency ("geography"), for
 * code that has no configuration at hand (tests, benches, CLI defaults). Workers use
 * modelCatalogueFor(config) (src/app/worker/worker.ts), which honours LABELQ_MODEL_CATALOGUE,
 * LABELQ_MODEL_GEOGRAPHY and LABELQ_RESIDENCY.
 */
export const DEFAULT_CATALOGUE = loadModelCatalogue({ geography: "us" });

/** The packaged models (us geography). */
export const MODELS: readonly ModelSpec[] = DEFAULT_CATALOGUE.models;

/** The packaged model behind an alias (us geography), or undefined. */
export function findModel(alias: string): ModelSpec | undefined {
  return DEFAULT_CATALOGUE.find(alias);
}

/** Prompt-cache tokens of one call, as Bedrock reports them (usage.cacheReadInputTokens / cacheWriteInputTokens). */
export interface CacheTokens {
  readTokens?: number;
  writeTokens?: number;
}

/**
 * Cost in USD of a call's tokens at the model's list price, or at the price of the service tier
 * that served it (flex, priority) when the catalogue has one for that tier.
 */
export function costUsd(model: ModelSpec, inputTokens: number, outputTokens: number, cache?: CacheTokens, tier: ServiceTier = "default"): number {
  const { cacheReadPer1k, cacheWritePer1k } = model.price;
  const tierPrice = tier === "default" ? undefined : model.price.tiers?.[tier];
  const { inputPer1k, outputPer1k } = tierPrice ?? model.price;
  // Bedrock reports cache reads and writes apart from inputTokens (inputTokens is only the
  // uncached part), so the three are added, never subtracted. A model without cache prices
  // should never report cache tokens; if it does, they are charged as ordinary input.
  const readTokens = cache?.readTokens ?? 0;
  const writeTokens = cache?.writeTokens ?? 0;
  return (
    (inputTokens / 1000) * inputPer1k +
    (readTokens / 1000) * (cacheReadPer1k ?? inputPer1k) +
    (writeTokens / 1000) * (cacheWritePer1k ?? inputPer1k) +
    (outputTokens / 1000) * outputPer1k
  );
}
