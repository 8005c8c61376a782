import { costUsd, type ModelSpec } from "../models/model-registry.ts";
import type { ModelResponse } from "../models/model-provider.ts";
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
}

/** Usage of nothing at all. */
export function noUsage(): Usage {
  return { modelCalls: 0, inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheWriteInputTokens: 0, reservedTokens: 0, costUsd: 0 };
}

/** The tokens, quota reserved and cost of one answered call at the model's list price (the call itself is counted per attempt). */
export function answerUsage(model: ModelSpec, tokens: ModelResponse["usage"], reservedTokens: number): Usage {
  const cacheReadInputTokens = tokens.cacheReadInputTokens ?? 0;
  const cacheWriteInputTokens = tokens.cacheWriteInputTokens ?? 0;
  return {
    modelCalls: 0,
    inputTokens: tokens.inputTokens,
    outputTokens: tokens.outputTokens,
    cacheReadInputTokens,
    cacheWriteInputTokens,
    reservedTokens,
    costUsd: costUsd(model, tokens.inputTokens, tokens.outputTokens, { readTokens: cacheReadInputTokens, writeTokens: cacheWriteInputTokens }),
  };
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

/** Count one answered call's tokens and cost in the process's metrics. */
export function recordUsage(metrics: Metrics | undefined, alias: string, usage: Usage): void {
  metrics?.tokens.inc({ model: alias, direction: "input" }, usage.inputTokens);
  metrics?.tokens.inc({ model: alias, direction: "output" }, usage.outputTokens);
  metrics?.reservedTokens.inc({ model: alias }, usage.reservedTokens);
  metrics?.costUsd.inc({ model: alias }, usage.costUsd);
}
