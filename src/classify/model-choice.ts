import type { Logger } from "pino";
import { ModelCallError } from "../errors/errors.ts";
import type { ModelSpec } from "../llm/model-registry.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { InferenceParams } from "../prompts/prompt-registry.ts";
import type { CircuitBreakers } from "./circuit-breaker.ts";

/** A model with the inference parameters to call it with. */
export interface ModelChoice {
  model: ModelSpec;
  inference: InferenceParams;
}

export interface ModelChoiceDeps {
  logger: Logger;
  metrics?: Metrics;
  /** Per-model circuit breakers, shared by the process's batches. */
  breakers?: CircuitBreakers;
}

/** How a call went on the chain: answered by some model, or refused for good by one. */
export type ChainOutcome<T> =
  | { kind: "answered"; choice: ModelChoice; value: T }
  | { kind: "rejected"; choice: ModelChoice; error: ModelCallError };

/**
 * Make `call` with the first model of `chain` that can take it. A model whose breaker is open
 * is skipped without a call; a model found unavailable or timed out (after its retries) hands
 * the call to the next one. A non-retryable refusal ends the chain with "rejected"; a
 * retryable failure of the last model, any other error, or stopping, is thrown.
 */
export async function callOnChain<T>(
  chain: readonly ModelChoice[],
  call: (choice: ModelChoice) => Promise<T>,
  deps: ModelChoiceDeps,
  signal?: AbortSignal,
): Promise<ChainOutcome<T>> {
  const { breakers, metrics, logger } = deps;
  for (const [k, choice] of chain.entries()) {
    const alias = choice.model.alias;
    const next = chain[k + 1];
    if (breakers && !breakers.allow(alias)) {
      if (next) {
        metrics?.fallbacks.inc({ from: alias, to: next.model.alias, reason: "circuit-open" });
        continue;
      }
      // No model left: hold the batch back rather than fail its texts.
      throw new ModelCallError("MODEL_UNAVAILABLE", choice.model.modelId, `circuit open for ${alias}: recent calls found it unavailable`);
    }
    try {
      const value = await call(choice);
      breakers?.success(alias);
      return { kind: "answered", choice, value };
    } catch (error) {
      const down = error instanceof ModelCallError && (error.code === "MODEL_UNAVAILABLE" || error.code === "MODEL_TIMEOUT");
      // Stopping is not the model's fault: no breaker, no fallback, no retry.
      if (signal?.aborted || !down) breakers?.release(alias);
      if (signal?.aborted) throw error;
      if (down) {
        if (breakers?.failure(alias)) logger.warn({ model: alias }, "circuit breaker opened: the model is skipped until a trial call succeeds");
        if (next) {
          metrics?.fallbacks.inc({ from: alias, to: next.model.alias, reason: "unavailable" });
          logger.warn({ model: alias, fallback: next.model.alias, code: error.code }, "model unavailable: chunk goes to the fallback model");
          continue;
        }
      }
      if (error instanceof ModelCallError && !error.retryable) return { kind: "rejected", choice, error };
      throw error;
    }
  }
  // Reached only with an empty chain: the caller always passes at least the chosen model.
  throw new RangeError("callOnChain needs at least one model");
}
