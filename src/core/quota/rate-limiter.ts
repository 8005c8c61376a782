import type { ModelResponse } from "../models/model-provider.ts";

/**
 * What Bedrock reserves against a model's tokens-per-minute quota when a call starts, and how
 * it settles after (docs: quotas-token-burndown): input + cache + maxTokens up front; then
 * input + cache writes + output x the model's burn-down rate (cache reads are released) (Claude 4.x: 5). Build with reservationFor.
 */
export interface Reservation {
  /** Uncached input tokens (the token estimator's count of the system prompt and user turn, less the cached prefix). */
  inputTokens: number;
  /** Prompt-cache tokens read or written (the cached prefix), 0 without caching. */
  cacheTokens: number;
  /** The maxTokens the request sends. */
  maxTokens: number;
  /** Quota tokens each output token burns. */
  outputBurnDown: number;
}

/** One model call as the limiter weighs it. */
export interface ModelCall {
  /** Model alias: quotas are per model (and region). */
  model: string;
  /** Estimated input + output tokens; used only when `reserve` is absent (older callers). */
  tokens: number;
  /** What Bedrock reserves for this call; when present the limiter reserves the same and settles like Bedrock. */
  reserve?: Reservation;
}

/**
 * How a call went. "ok" settles the reservation with the real usage; "throttled" (429, or
 * 503 "Too many connections") slows the model's lane down; "quota-exhausted" (the daily
 * quota) pauses the model until `resetsAt`; "failed" releases the reservation.
 */
export type CallFeedback =
  | { outcome: "ok"; usage: ModelResponse["usage"] }
  | { outcome: "throttled" }
  | { outcome: "quota-exhausted"; resetsAt: number }
  | { outcome: "failed" };

/** Shares the model quota between concurrent calls and, in fleet mode, between worker processes. */
export interface RateLimiter {
  /**
   * Run `task` when the model's quota allows: reserves what Bedrock will reserve, so calls
   * start only when Bedrock would accept them. Rejects with MODEL_QUOTA_EXHAUSTED while the
   * model's daily quota is spent.
   */
  schedule<T>(call: ModelCall, task: () => Promise<T>): Promise<T>;
  /** Report the outcome of a scheduled call (once per call). */
  report(call: ModelCall, feedback: CallFeedback): void;
  /** Until when a model is paused because its daily quota is spent (epoch ms), or undefined. */
  pausedUntil(model: string): number | undefined;
  /**
   * Resolves when one of `models` can start a call: not while each is paused for its daily quota
   * or has a call waiting for room in its full window. Batches received earlier that have not
   * called yet (or never will: cache hits) do not hold it. The worker pool awaits it before
   * receiving, so a backlog waits in SQS.
   */
  whenCanStart(models: readonly string[], signal?: AbortSignal): Promise<void>;
  /** Calls waiting for a slot, all models. */
  queued(): number;
  /** Current share of each model's configured quota (1 = the full quota), for metrics. */
  rateFactors(): Record<string, number>;
  /** Stop accepting work and release connections. */
  close(): Promise<void>;
}
