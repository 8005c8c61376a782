import type { ModelSpec } from "../../core/models/model-registry.ts";

/**
 * Cost in USD of a batch inference record's tokens at the model's batch prices (catalogue
 * `batch`); a model without them is charged at its on-demand prices (it should never get here).
 * Batch inference reports no prompt-cache tokens: records are sent without cache points.
 */
export function batchCostUsd(model: Pick<ModelSpec, "price" | "batch">, inputTokens: number, outputTokens: number): number {
  const prices = model.batch ?? model.price;
  return (inputTokens / 1000) * prices.inputPer1k + (outputTokens / 1000) * prices.outputPer1k;
}
