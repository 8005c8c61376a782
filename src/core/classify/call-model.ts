import { setTimeout as sleep } from "node:timers/promises";
import { ModelCallError } from "../errors/errors.ts";
import { feedbackForError, reservationFor, reservedTokens } from "../quota/bedrock-quota.ts";
import type { ModelCall, RateLimiter, Reservation } from "../quota/rate-limiter.ts";
import type { ModelProvider, ModelRequest, ModelResponse } from "../models/model-provider.ts";
import type { ModelSpec } from "../models/model-registry.ts";
import { parseLineOutput } from "../models/parse-line-output.ts";
import { parseModelOutput, type ParsedOutput } from "../models/parse-model-output.ts";
import { countTokens } from "../models/token-estimator.ts";
import { type SentTier, type ServiceTier, tierAfterShed, tierFor, type WantedTier } from "../models/service-tiers.ts";
import { currentRoute } from "../quota/pool-route.ts";
import type { Metrics } from "../observability/metrics.ts";
import { forFormat, type ResolvedPrompt } from "../prompts/prompt-registry.ts";
import { renderUserMessage } from "../prompts/render-prompt.ts";
import { outputJsonSchema } from "../taxonomy/output-json-schema.ts";
import type { ModelChoice } from "./model-choice.ts";
import { answerBudget, maxTokensFor } from "./output-budget.ts";
import { DEFAULT_RETRY_POLICY, nextRetryDelayMs, type RetryBudget, type RetryPolicy } from "./retry-policy.ts";
import type { ServedTier } from "./usage.ts";

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
  /** The service tier the batch asks for (its request's, or the tier policy's); absent: none. */
  tier?: WantedTier;
  /** The request has a deadline: a flex call the policy chose then retries on default after a shed. */
  hasDeadline?: boolean;
}

/** A model's answer to one chunk, read into per-text objects (not yet validated). */
export interface ChunkAnswer {
  response: ModelResponse;
  parsed: ParsedOutput;
  /** What Bedrock reserved against tokens per minute for the call (input, cache and maxTokens). */
  reservedTokens: number;
  /** The tier that served the call, when it was sent with one (priced at that tier's price). */
  served?: ServedTier;
}

/** One call as it will be sent: the request, and what Bedrock reserves for it against the quota. */
export interface CallPlan {
  request: ModelRequest;
  reserve: Reservation;
}

/**
 * Plan the call that asks `choice` to label `texts`, in the model's answer format (catalogue
 * outputFormat): the prompt is rendered for that format here, so a fallback with another format
 * gets its own. maxTokens is sized to the chunk (texts x tokens per answer, see output-budget),
 * never above the model's output cap, because Bedrock reserves maxTokens against tokens-per-minute
 * when a call starts. Tokens are counted with the model's tokenizer; the system prompt counts as
 * cache when the model caches it (Bedrock caches a prefix only from the model's minimum length
 * up; shorter is plain input).
 */
export function planCall(texts: readonly string[], basePrompt: ResolvedPrompt, choice: ModelChoice): CallPlan {
  const { model, inference } = choice;
  const format = model.outputFormat;
  const prompt = forFormat(basePrompt, format);
  const user = renderUserMessage(texts, format);
  const systemTokens = countTokens(prompt.system, model.tokenizer);
  const userTokens = countTokens(user, model.tokenizer);
  const budget = answerBudget(prompt.taxonomy, model.tokenizer, format);
  const maxTokens = maxTokensFor(texts.length, budget, Math.min(inference.maxTokens, model.maxOutputTokens), format);
  const cached = model.capabilities.promptCache && systemTokens >= (model.capabilities.promptCacheMinTokens ?? 0);
  const reserve = reservationFor(model, { inputTokens: cached ? userTokens : systemTokens + userTokens, cacheTokens: cached ? systemTokens : 0, maxTokens });
  const request: ModelRequest = {
    modelId: model.modelId,
    system: prompt.system,
    user,
    inference: { ...inference, maxTokens },
    format,
    // JSON through a forced tool where the model supports it; JSON in text (and repair) elsewhere.
    ...(format === "json" && model.capabilities.structuredOutput === "tool" ? { structuredOutput: { schema: outputSchemaOf(prompt) } } : {}),
    cacheSystemPrompt: model.capabilities.promptCache,
  };
  return { request, reserve };
}

/** True when the planned call's prompt and answer fit the model's context window. */
export function fitsContext(plan: CallPlan, model: Pick<ModelSpec, "contextTokens">): boolean {
  return reservedTokens(plan.reserve) <= model.contextTokens;
}

/**
 * Ask one model to label one chunk of texts, through the limiter, retrying a throttled,
 * unavailable or timed-out call per the retry policy while the batch's budget lasts. Every
 * wait (limiter queue, backoff) ends as soon as `signal` aborts, so a stopping worker never
 * outstays its shutdown deadline.
 */
export async function callModel(texts: readonly string[], prompt: ResolvedPrompt, choice: ModelChoice, deps: CallModelDeps, ctx: CallContext): Promise<ChunkAnswer> {
  const { model } = choice;
  const { signal } = ctx;
  const plan = planCall(texts, prompt, choice);
  if (!fitsContext(plan, model)) {
    // Bedrock would refuse it (ValidationException) after a round trip and a quota slot: say so now.
    const { inputTokens, cacheTokens, maxTokens } = plan.reserve;
    throw new ModelCallError(
      "MODEL_REJECTED_REQUEST",
      model.modelId,
      `the prompt (~${inputTokens + cacheTokens} tokens) plus ${maxTokens} output tokens exceeds ${model.alias}'s context of ${model.contextTokens} tokens; choose a model with a larger context or a smaller taxonomy`,
    );
  }
  const call: ModelCall = { model: model.alias, tokens: reservedTokens(plan.reserve), reserve: plan.reserve };
  let wanted = ctx.tier;
  // A plain loop rather than p-retry: the wait before each attempt is the service's retry-after
  // or full jitter, taken from a budget shared by the batch, which p-retry's backoff cannot express.
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    const started = performance.now();
    const sent: Attempt = { sent: false };
    try {
      const response = await sendOnce(call, plan.request, tierChoice(model, wanted), deps, ctx, sent);
      deps.limiter.report(call, { outcome: "ok", usage: response.usage });
      observeCall(deps.metrics, model.alias, "ok", started, response.serviceTier);
      const served = response.serviceTier === undefined ? undefined : { tier: response.serviceTier, fellBack: sent.tier?.fellBack ?? false };
      return { response, parsed: readAnswer(response, prompt, model), reservedTokens: call.tokens, ...(served ? { served } : {}) };
    } catch (error) {
      if (sent.sent) deps.limiter.report(call, signal?.aborted ? { outcome: "failed" } : feedbackForError(error));
      if (signal?.aborted) throw error;
      observeCall(deps.metrics, model.alias, callOutcome(error), started, sent.tier?.tier);
      await backOff(error, attempt, model.alias, deps, ctx);
      if (wanted && error instanceof ModelCallError && error.shedTier === "flex") wanted = tierAfterShed(wanted, ctx.hasDeadline === true);
    }
  }
}

/** What one attempt came to: whether the limiter let it start, and the tier it was sent on. */
interface Attempt {
  sent: boolean;
  tier?: SentTier;
}

/**
 * The tier of an attempt, chosen when the limiter starts it: only then is its Region known (a
 * pooled limiter runs it with its pool's route; outside pools it goes to the caller's Region,
 * AWS_REGION, that the catalogue was resolved for; unknown there, the catalogue's tiers are taken
 * as offered). The choice itself is tierFor's, the one place tiers are decided.
 */
function tierChoice(model: ModelSpec, wanted: WantedTier | undefined): () => SentTier | undefined {
  return () => {
    const route = currentRoute();
    const region = route ? route.region : model.callerRegion;
    return tierFor(model, wanted, { ...(region === undefined ? {} : { region }), ...(route?.tier === undefined ? {} : { poolTier: route.tier }) });
  };
}

/**
 * One attempt through the limiter. Only a call the limiter let start was sent, reserved quota
 * and is reported back: `sent` says so, with the tier `chooseTier` gave it at the start. A call
 * still waiting in the limiter when the worker stops must not hold the shutdown: the wait ends
 * at once, and the queued job then finds the signal aborted and does nothing.
 */
function sendOnce(call: ModelCall, request: ModelRequest, chooseTier: () => SentTier | undefined, deps: CallModelDeps, ctx: CallContext, sent: Attempt): Promise<ModelResponse> {
  const { signal } = ctx;
  const job = () => {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    sent.sent = true;
    // Every attempt sent counts, retried and failed ones too: usage says what was asked of the service.
    ctx.onAttempt();
    sent.tier = chooseTier();
    return deps.provider.converse(sent.tier === undefined ? request : { ...request, serviceTier: sent.tier.tier }, signal);
  };
  return abortable(deps.limiter.schedule(call, job), signal);
}

/** Wait before the next attempt, or throw `error` when it is not retried (not retryable, out of attempts or budget). */
async function backOff(error: unknown, attempt: number, alias: string, deps: CallModelDeps, ctx: CallContext): Promise<void> {
  const delay = nextRetryDelayMs(error, attempt, deps.retry ?? DEFAULT_RETRY_POLICY);
  if (delay === undefined || !(error instanceof ModelCallError) || !ctx.budget.take(delay)) throw error;
  deps.metrics?.retries.inc({ model: alias, code: error.code });
  const { signal } = ctx;
  // Ends the moment the worker stops, with the signal's reason like every other wait here.
  await sleep(delay, undefined, { signal }).catch((abortError: unknown) => {
    signal?.throwIfAborted();
    throw abortError;
  });
}

/**
 * Read a model's answer to a call planned by planCall into per-text objects, in the format the
 * prompt asked for. Live calls and bulk (batch inference) records both go through here.
 */
export function readAnswer(response: Pick<ModelResponse, "text" | "stopReason">, prompt: ResolvedPrompt, model: Pick<ModelSpec, "outputFormat">): ParsedOutput {
  return model.outputFormat === "lines"
    ? parseLineOutput(response.text, response.stopReason, prompt.taxonomy.dimensions)
    : parseModelOutput(response.text, response.stopReason);
}

function observeCall(metrics: Metrics | undefined, model: string, outcome: string, started: number, tier?: ServiceTier): void {
  metrics?.modelCalls.inc({ model, outcome, ...(tier === undefined ? {} : { tier }) });
  metrics?.modelCallDuration.observe({ model, outcome }, (performance.now() - started) / 1000);
}

const CALL_OUTCOMES: Partial<Record<string, string>> = {
  MODEL_THROTTLED: "throttled",
  MODEL_QUOTA_EXHAUSTED: "quota-exhausted",
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
