import { setTimeout as sleep } from "node:timers/promises";
import { ModelCallError } from "../errors/errors.ts";
import type { RateLimiter } from "../limiter/rate-limiter.ts";
import type { ModelProvider, ModelRequest, ModelResponse } from "../llm/model-provider.ts";
import { parseModelOutput, type ParsedOutput } from "../llm/parse-model-output.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { ResolvedPrompt } from "../prompts/prompt-registry.ts";
import { renderUserMessage } from "../prompts/render-prompt.ts";
import { outputJsonSchema } from "../taxonomy/output-json-schema.ts";
import type { ModelChoice } from "./model-choice.ts";
import { DEFAULT_RETRY_POLICY, nextRetryDelayMs, type RetryBudget, type RetryPolicy } from "./retry-policy.ts";

export interface CallModelDeps {
  provider: ModelProvider;
  limiter: RateLimiter;
  metrics?: Metrics;
  retry?: RetryPolicy;
}

export interface CallContext {
  /** Waiting time between retried calls the batch may still spend. */
  budget: RetryBudget;
  /** Called once per attempt sent (or about to be sent) to the service, failed ones included. */
  onAttempt: () => void;
  signal?: AbortSignal;
}

/** A model's answer to one chunk, read into per-text objects (not yet validated). */
export interface ChunkAnswer {
  response: ModelResponse;
  parsed: ParsedOutput;
}

/**
 * Ask one model to label one chunk of texts, through the limiter, retrying a throttled,
 * unavailable or timed-out call per the retry policy while the batch's budget lasts. Every
 * wait (limiter queue, backoff) ends as soon as `signal` aborts, so a stopping worker never
 * outstays its shutdown deadline.
 */
export async function callModel(texts: readonly string[], prompt: ResolvedPrompt, choice: ModelChoice, deps: CallModelDeps, ctx: CallContext): Promise<ChunkAnswer> {
  const { model, inference } = choice;
  const { signal } = ctx;
  const user = renderUserMessage(texts);
  // ~4 characters per token: close enough to weigh calls against a tokens-per-minute budget.
  const inputTokens = Math.ceil((prompt.system.length + user.length) / 4);
  if (inputTokens + inference.maxTokens > model.contextTokens) {
    // Bedrock would refuse it (ValidationException) after a round trip and a quota slot: say so now.
    throw new ModelCallError(
      "MODEL_REJECTED_REQUEST",
      model.modelId,
      `the prompt (~${inputTokens} tokens) plus ${inference.maxTokens} output tokens exceeds ${model.alias}'s context of ${model.contextTokens} tokens; choose a model with a larger context or a smaller taxonomy`,
    );
  }
  const call = { model: model.alias, tokens: inputTokens + texts.length * 40 };
  const request: ModelRequest = {
    modelId: model.modelId,
    system: prompt.system,
    user,
    inference,
    // Forced tool use where the model supports it; JSON in text (and repair) elsewhere.
    ...(model.capabilities.structuredOutput === "tool" ? { structuredOutput: { schema: outputSchemaOf(prompt) } } : {}),
    cacheSystemPrompt: model.capabilities.promptCache,
  };
  const policy = deps.retry ?? DEFAULT_RETRY_POLICY;
  // A plain loop rather than p-retry: the wait before each attempt is the service's retry-after
  // or full jitter, taken from a budget shared by the batch, which p-retry's backoff cannot express.
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    const started = performance.now();
    // Every attempt counts, retried and failed ones too: usage says what was asked of the service.
    ctx.onAttempt();
    try {
      // A call still waiting in the limiter when the worker stops must not hold the shutdown:
      // give up waiting at once; the queued job then finds the signal aborted and does nothing.
      const response = await abortable(
        deps.limiter.schedule(call, () => (signal?.aborted ? Promise.reject(abortReason(signal)) : deps.provider.converse(request, signal))),
        signal,
      );
      deps.limiter.report(call, { throttled: false, actualTokens: response.usage.inputTokens + response.usage.outputTokens });
      observeCall(deps.metrics, model.alias, "ok", started);
      return { response, parsed: parseModelOutput(response.text, response.stopReason) };
    } catch (error) {
      if (signal?.aborted) throw error;
      observeCall(deps.metrics, model.alias, callOutcome(error), started);
      if (error instanceof ModelCallError && error.code === "MODEL_THROTTLED") {
        deps.limiter.report(call, { throttled: true, retryAfterSeconds: error.retryAfterSeconds });
      }
      const delay = nextRetryDelayMs(error, attempt, policy);
      if (delay === undefined || !(error instanceof ModelCallError) || !ctx.budget.take(delay)) throw error;
      deps.metrics?.retries.inc({ model: model.alias, code: error.code });
      // Ends the moment the worker stops, with the signal's reason like every other wait here.
      await sleep(delay, undefined, { signal }).catch((abortError: unknown) => {
        signal?.throwIfAborted();
        throw abortError;
      });
    }
  }
}

function observeCall(metrics: Metrics | undefined, model: string, outcome: string, started: number): void {
  metrics?.modelCalls.inc({ model, outcome });
  metrics?.modelCallDuration.observe({ model, outcome }, (performance.now() - started) / 1000);
}

const CALL_OUTCOMES: Partial<Record<string, string>> = {
  MODEL_THROTTLED: "throttled",
  MODEL_UNAVAILABLE: "unavailable",
  MODEL_REJECTED_REQUEST: "rejected",
  MODEL_TIMEOUT: "timeout",
};

function callOutcome(error: unknown): string {
  return (error instanceof ModelCallError && CALL_OUTCOMES[error.code]) || "error";
}

// One schema per rendered prompt (subset prompts included), built on first use.
const outputSchemas = new WeakMap<ResolvedPrompt, Record<string, unknown>>();
function outputSchemaOf(prompt: ResolvedPrompt): Record<string, unknown> {
  let schema = outputSchemas.get(prompt);
  if (!schema) {
    schema = outputJsonSchema(prompt.taxonomy);
    outputSchemas.set(prompt, schema);
  }
  return schema;
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason));
}

/** Settle with `promise`, or reject as soon as `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
