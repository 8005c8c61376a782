import { ModelCallError } from "../errors/errors.ts";
import type { ModelResponse } from "../models/model-provider.ts";
import type { CallFeedback, Reservation } from "./rate-limiter.ts";

/** The reservation of a call to a model: what Bedrock takes from tokens-per-minute when the call starts. */
export function reservationFor(model: { outputBurnDown: number }, call: { inputTokens: number; cacheTokens?: number; maxTokens: number }): Reservation {
  return { inputTokens: call.inputTokens, cacheTokens: call.cacheTokens ?? 0, maxTokens: call.maxTokens, outputBurnDown: model.outputBurnDown };
}

/** Tokens reserved when the call starts: input + cache + maxTokens. */
export function reservedTokens(r: Reservation): number {
  return r.inputTokens + r.cacheTokens + r.maxTokens;
}

/**
 * Tokens the call finally costs the quota: input + cache writes + output x burn-down. Cache reads
 * are reserved when the call starts but released at settlement (docs/bedrock-fidelity.md row 8).
 */
export function settledTokens(r: Reservation, usage: ModelResponse["usage"]): number {
  return usage.inputTokens + (usage.cacheWriteInputTokens ?? 0) + usage.outputTokens * r.outputBurnDown;
}

/** The limiter feedback for a failed call: which errors slow the lane, pause the model, or only release the reservation. */
export function feedbackForError(error: unknown): CallFeedback {
  if (!(error instanceof ModelCallError)) return { outcome: "failed" };
  if (error.code === "MODEL_THROTTLED") return { outcome: "throttled" };
  if (error.code === "MODEL_QUOTA_EXHAUSTED" && error.resetsAt !== undefined) return { outcome: "quota-exhausted", resetsAt: error.resetsAt };
  return { outcome: "failed" };
}
