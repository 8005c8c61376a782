import type { Logger } from "pino";
import { ModelCallError } from "../errors/errors.ts";
import type { ModelSpec } from "../models/model-registry.ts";
import type { RateLimiter } from "../quota/rate-limiter.ts";
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
  /** Which models have their daily quota spent, and until when (the rate limiter). */
  limiter?: Pick<RateLimiter, "pausedUntil">;
}

/** How a call went on the chain: answered by some model, or refused for good by one. */
export type ChainOutcome<T> =
  | { kind: "answered"; choice: ModelChoice; value: T }
  | { kind: "rejected"; choice: ModelChoice; error: ModelCallError };

/**
 * Make `call` with the first model of `chain` that can take it. A model whose daily quota is
 * spent, or whose breaker is open, is skipped without a call; a model found unavailable, timed
 * out or out of daily quota (after its retries) hands the call to the next one. A
 * non-retryable refusal ends the chain with "rejected". When no model is left, the failure is
 * thrown: MODEL_QUOTA_EXHAUSTED naming every model and its reset when all of them are out of
 * daily quota (nothing can run before the earliest reset), otherwise the last model's failure.
 * Any other error, or stopping, is thrown at once.
 */
export async function callOnChain<T>(
  chain: readonly ModelChoice[],
  call: (choice: ModelChoice) => Promise<T>,
  deps: ModelChoiceDeps,
  signal?: AbortSignal,
): Promise<ChainOutcome<T>> {
  const { breakers, metrics, logger } = deps;
  const exhausted: { choice: ModelChoice; resetsAt: number }[] = [];
  let failure: Error | undefined;
  /** Go on with the next model, if any; says whether there is one. */
  const fallBack = (k: number, reason: string): boolean => {
    const [from, to] = [chain[k], chain[k + 1]];
    if (from && to) metrics?.fallbacks.inc({ from: from.model.alias, to: to.model.alias, reason });
    return to !== undefined;
  };
  for (const [k, choice] of chain.entries()) {
    const alias = choice.model.alias;
    const pausedUntil = deps.limiter?.pausedUntil(alias);
    if (pausedUntil !== undefined) {
      exhausted.push({ choice, resetsAt: pausedUntil });
      fallBack(k, "quota-exhausted");
      continue;
    }
    if (breakers && !breakers.allow(alias)) {
      // With no model left this holds the batch back rather than fail its texts.
      failure = new ModelCallError("MODEL_UNAVAILABLE", choice.model.modelId, `circuit open for ${alias}: recent calls found it unavailable`);
      fallBack(k, "circuit-open");
      continue;
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
      if (error instanceof ModelCallError && error.code === "MODEL_QUOTA_EXHAUSTED") {
        exhausted.push({ choice, resetsAt: error.resetsAt ?? Date.now() });
        if (fallBack(k, "quota-exhausted")) logger.warn({ model: alias, fallback: chain[k + 1]?.model.alias }, "daily quota spent: chunk goes to the fallback model");
        continue;
      }
      if (down) {
        if (breakers?.failure(alias)) logger.warn({ model: alias }, "circuit breaker opened: the model is skipped until a trial call succeeds");
        failure = error;
        if (fallBack(k, "unavailable")) {
          logger.warn({ model: alias, fallback: chain[k + 1]?.model.alias, code: error.code }, "model unavailable: chunk goes to the fallback model");
          continue;
        }
        throw error;
      }
      if (error instanceof ModelCallError && !error.retryable) return { kind: "rejected", choice, error };
      throw error;
    }
  }
  if (exhausted.length === chain.length && exhausted.length > 0) throw noModelCanRun(exhausted);
  // Reached with no failure only for an empty chain: the caller always passes the chosen model.
  throw failure ?? (exhausted.length > 0 ? noModelCanRun(exhausted) : new RangeError("callOnChain needs at least one model"));
}

/** Every model of the chain is out of daily quota: nothing can run before the earliest reset. */
function noModelCanRun(exhausted: readonly { choice: ModelChoice; resetsAt: number }[]): ModelCallError {
  const resetsAt = Math.min(...exhausted.map((e) => e.resetsAt));
  const each = exhausted.map((e) => `${e.choice.model.alias} until ${new Date(e.resetsAt).toISOString()}`).join(", ");
  const first = exhausted[0]?.choice.model.modelId ?? "";
  return new ModelCallError("MODEL_QUOTA_EXHAUSTED", first, `no allowed model can run: the daily token quota is spent for ${each}`, { resetsAt });
}
