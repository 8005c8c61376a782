import { costUsd, type ModelSpec } from "../llm/model-registry.ts";
import type { ModelResponse } from "../llm/model-provider.ts";
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
  costUsd: number;
}

/** Usage of nothing at all. */
export function noUsage(): Usage {
  return { modelCalls: 0, inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheWriteInputTokens: 0, costUsd: 0 };
}

/** The tokens and cost of one answered call at the model's list price (the call itself is counted per attempt). */
export function answerUsage(model: ModelSpec, tokens: ModelResponse["usage"]): Usage {
  const cacheReadInputTokens = tokens.cacheReadInputTokens ?? 0;
  const cacheWriteInputTokens = tokens.cacheWriteInputTokens ?? 0;
  return {
    modelCalls: 0,
    inputTokens: tokens.inputTokens,
    outputTokens: tokens.outputTokens,
    cacheReadInputTokens,
    cacheWriteInputTokens,
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
    costUsd: a.costUsd + b.costUsd,
  };
}

/** Count one answered call's tokens and cost in the process's metrics. */
export function recordUsage(metrics: Metrics | undefined, alias: string, usage: Usage): void {
  metrics?.tokens.inc({ model: alias, direction: "input" }, usage.inputTokens);
  metrics?.tokens.inc({ model: alias, direction: "output" }, usage.outputTokens);
  metrics?.costUsd.inc({ model: alias }, usage.costUsd);
}
