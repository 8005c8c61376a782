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
  const exhausted: { choice: ModelChoice; resetsAt: number }[] = [];
  let failure: Error | undefined;
  for (const [k, choice] of chain.entries()) {
    const step = await tryModel(choice, call, deps, signal);
    if (step.kind === "answered" || step.kind === "rejected") return step;
    if (step.kind === "exhausted") exhausted.push({ choice, resetsAt: step.resetsAt });
    // With no model left an open circuit holds the batch back rather than fail its texts.
    else failure = step.error;
    const next = chain[k + 1];
    if (next) handOff(choice, next, step, deps);
  }
  if (exhausted.length === chain.length && exhausted.length > 0) throw noModelCanRun(exhausted);
  // Reached with no failure only for an empty chain: the caller always passes the chosen model.
  throw failure ?? (exhausted.length > 0 ? noModelCanRun(exhausted) : new RangeError("callOnChain needs at least one model"));
}

/**
 * One model's turn: answered, rejected for good, or passed on because its daily quota is spent
 * or it is down (`called` says whether it was asked at all, or skipped on the limiter's or the
 * breaker's word).
 */
type ModelTurn<T> =
  | ChainOutcome<T>
  | { kind: "exhausted"; resetsAt: number; called: boolean }
  | { kind: "down"; error: ModelCallError; reason: "circuit-open" | "unavailable" };

/** Ask one model unless its daily quota is spent or its breaker is open. */
async function tryModel<T>(choice: ModelChoice, call: (choice: ModelChoice) => Promise<T>, deps: ModelChoiceDeps, signal?: AbortSignal): Promise<ModelTurn<T>> {
  const alias = choice.model.alias;
  const pausedUntil = deps.limiter?.pausedUntil(alias);
  if (pausedUntil !== undefined) return { kind: "exhausted", resetsAt: pausedUntil, called: false };
  if (deps.breakers && !deps.breakers.allow(alias)) {
    const error = new ModelCallError("MODEL_UNAVAILABLE", choice.model.modelId, `circuit open for ${alias}: recent calls found it unavailable`);
    return { kind: "down", error, reason: "circuit-open" };
  }
  try {
    const value = await call(choice);
    deps.breakers?.success(alias);
    return { kind: "answered", choice, value };
  } catch (error) {
    return failedTurn(choice, error, deps, signal);
  }
}

/** What a failed call means for the chain; stopping, and any error but a model's, is thrown. */
function failedTurn(choice: ModelChoice, error: unknown, deps: ModelChoiceDeps, signal?: AbortSignal): ModelTurn<never> {
  const alias = choice.model.alias;
  const down = error instanceof ModelCallError && (error.code === "MODEL_UNAVAILABLE" || error.code === "MODEL_TIMEOUT");
  // Stopping is not the model's fault: no breaker, no fallback, no retry.
  if (signal?.aborted || !down) deps.breakers?.release(alias);
  if (signal?.aborted || !(error instanceof ModelCallError)) throw error;
  if (error.code === "MODEL_QUOTA_EXHAUSTED") return { kind: "exhausted", resetsAt: error.resetsAt ?? Date.now(), called: true };
  if (down) {
    if (deps.breakers?.failure(alias)) deps.logger.warn({ model: alias }, "circuit breaker opened: the model is skipped until a trial call succeeds");
    return { kind: "down", error, reason: "unavailable" };
  }
  if (!error.retryable) return { kind: "rejected", choice, error };
  throw error;
}

/** Count the hand-off to the next model; a model that was asked and failed is also logged. */
function handOff(from: ModelChoice, to: ModelChoice, turn: ModelTurn<unknown> & { kind: "exhausted" | "down" }, deps: ModelChoiceDeps): void {
  const fields = { model: from.model.alias, fallback: to.model.alias };
  const reason = turn.kind === "exhausted" ? "quota-exhausted" : turn.reason;
  deps.metrics?.fallbacks.inc({ from: fields.model, to: fields.fallback, reason });
  if (turn.kind === "exhausted" && turn.called) deps.logger.warn(fields, "daily quota spent: chunk goes to the fallback model");
  if (turn.kind === "down" && turn.reason === "unavailable") deps.logger.warn({ ...fields, code: turn.error.code }, "model unavailable: chunk goes to the fallback model");
}

/** Every model of the chain is out of daily quota: nothing can run before the earliest reset. */
function noModelCanRun(exhausted: readonly { choice: ModelChoice; resetsAt: number }[]): ModelCallError {
  const resetsAt = Math.min(...exhausted.map((e) => e.resetsAt));
  const each = exhausted.map((e) => `${e.choice.model.alias} until ${new Date(e.resetsAt).toISOString()}`).join(", ");
  const first = exhausted[0]?.choice.model.modelId ?? "";
  return new ModelCallError("MODEL_QUOTA_EXHAUSTED", first, `no allowed model can run: the daily token quota is spent for ${each}`, { resetsAt });
}
