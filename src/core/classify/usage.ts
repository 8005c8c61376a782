import { costUsd, type ModelSpec } from "../models/model-registry.ts";
import type { ModelResponse } from "../models/model-provider.ts";
import type { ServiceTier } from "../models/service-tiers.ts";
import type { Metrics } from "../observability/metrics.ts";

/** What a batch asked of the model service and what it cost. */
export interface Usage {
  /** Calls sent to the model, retries and re-asks included. */
  modelCalls: number;
  /** Input tokens billed at the input price (prompt-cache reads and writes are counted apart). */
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheWriteInputTokens: number;
  /**
   * Tokens-per-minute quota Bedrock reserved for the answered calls: input, cache and maxTokens,
   * held from a call's start to its end. The ceiling on throughput when tokens bind.
   */
  reservedTokens: number;
  costUsd: number;
  /**
   * Answered calls and their cost by the service tier that served them: only calls sent with a
   * tier count here, so a batch that never asked for one has no `tiers` (as before tiers).
   */
  tiers?: Partial<Record<ServiceTier, TierUsage>>;
  /** Answered calls sent on default because their model does not offer the tier the batch asked for. */
  tierFallbacks?: number;
}

/** One tier's share of a batch's answered calls. */
export interface TierUsage {
  modelCalls: number;
  costUsd: number;
}

/** The service tier an answered call was sent on and served by, and whether it is default only because its model lacks the wanted tier. */
export interface ServedTier {
  tier: ServiceTier;
  fellBack: boolean;
}

/** Usage of nothing at all. */
export function noUsage(): Usage {
  return { modelCalls: 0, inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheWriteInputTokens: 0, reservedTokens: 0, costUsd: 0 };
}

/**
 * The tokens, quota reserved and cost of one answered call (the call itself is counted per
 * attempt): at the price of the tier that served it when it was sent with one (`served`), else
 * at the model's list price.
 */
export function answerUsage(model: ModelSpec, tokens: ModelResponse["usage"], reservedTokens: number, served?: ServedTier): Usage {
  const cacheReadInputTokens = tokens.cacheReadInputTokens ?? 0;
  const cacheWriteInputTokens = tokens.cacheWriteInputTokens ?? 0;
  const cost = costUsd(model, tokens.inputTokens, tokens.outputTokens, { readTokens: cacheReadInputTokens, writeTokens: cacheWriteInputTokens }, served?.tier);
  return {
    modelCalls: 0,
    inputTokens: tokens.inputTokens,
    outputTokens: tokens.outputTokens,
    cacheReadInputTokens,
    cacheWriteInputTokens,
    reservedTokens,
    costUsd: cost,
    ...(served ? { tiers: { [served.tier]: { modelCalls: 1, costUsd: cost } }, tierFallbacks: served.fellBack ? 1 : 0 } : {}),
  };
}

/** Two tier tallies summed per tier; undefined when neither has one. */
function addTiers(a: Usage["tiers"], b: Usage["tiers"]): Usage["tiers"] {
  if (a === undefined || b === undefined) return a ?? b;
  const sum: NonNullable<Usage["tiers"]> = { ...a };
  for (const [tier, u] of Object.entries(b) as [ServiceTier, TierUsage][]) {
    const had = sum[tier];
    sum[tier] = had ? { modelCalls: had.modelCalls + u.modelCalls, costUsd: had.costUsd + u.costUsd } : u;
  }
  return sum;
}

/** Field-by-field sum. */
export function addUsage(a: Usage, b: Usage): Usage {
  return {
    modelCalls: a.modelCalls + b.modelCalls,
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadInputTokens: a.cacheReadInputTokens + b.cacheReadInputTokens,
    cacheWriteInputTokens: a.cacheWriteInputTokens + b.cacheWriteInputTokens,
    reservedTokens: a.reservedTokens + b.reservedTokens,
    costUsd: a.costUsd + b.costUsd,
    // Only when some call had a tier, so usage without tiers keeps its shape.
    ...(a.tiers || b.tiers ? { tiers: addTiers(a.tiers, b.tiers), tierFallbacks: (a.tierFallbacks ?? 0) + (b.tierFallbacks ?? 0) } : {}),
  };
}

/** Tokens per text sent to the model (input with cache reads and writes, output, reserved), to one decimal; 0 when no text was sent. */
export function usagePerText(
  usage: Pick<Usage, "inputTokens" | "cacheReadInputTokens" | "cacheWriteInputTokens" | "outputTokens" | "reservedTokens">,
  texts: number,
): { inputTokens: number; outputTokens: number; reservedTokens: number } {
  const per = (tokens: number) => (texts > 0 ? Math.round((10 * tokens) / texts) / 10 : 0);
  return {
    inputTokens: per(usage.inputTokens + usage.cacheReadInputTokens + usage.cacheWriteInputTokens),
    outputTokens: per(usage.outputTokens),
    reservedTokens: per(usage.reservedTokens),
  };
}

/** Count one answered call's tokens and cost in the process's metrics, by the tier that served it when it was sent with one. */
export function recordUsage(metrics: Metrics | undefined, alias: string, usage: Usage, tier?: ServiceTier): void {
  const by = tier === undefined ? {} : { tier };
  metrics?.tokens.inc({ model: alias, direction: "input", ...by }, usage.inputTokens);
  metrics?.tokens.inc({ model: alias, direction: "output", ...by }, usage.outputTokens);
  metrics?.reservedTokens.inc({ model: alias }, usage.reservedTokens);
  metrics?.costUsd.inc({ model: alias, ...by }, usage.costUsd);
}
