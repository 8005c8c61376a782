import { buildAnswer, type Answer } from "./answer.ts";
import { AWS_ERRORS, awsError, errorForFault, errorHeaders, type AwsError } from "./aws-errors.ts";
import type { BedrockModel } from "./bedrock-models.ts";
import { isAwsError, parseConverseBody, type ConverseInput } from "./converse-request.ts";
import type { InvocationTarget } from "./customization/invocation-target.ts";
import type { LabelErrorOptions } from "./label-errors.ts";
import { refuseForModel, resolveModel } from "./model-rules.ts";
import { DEFAULT_FLEX_SHED_AT, isRefusal } from "./quota.ts";
import type { RequestIdentity } from "./request-identity.ts";
import { refuseTier } from "./service-tiers.ts";
import type { EmulatorState } from "./state.ts";
import { sumTokens, type TokenCounting } from "./tokens.ts";
import type { OutputFaultKind } from "./types.ts";

/** An HTTP answer, to be sent after delayMs; onSent runs once it is sent (or the client left). */
export interface EmulatorResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  delayMs: number;
  onSent?: () => void;
}

/** Sends an AWS-shaped error and counts it. */
export function errorResponse(state: EmulatorState | undefined, error: AwsError, requestId: string): EmulatorResponse {
  state?.stats.error(error.name);
  return { status: AWS_ERRORS[error.name], headers: errorHeaders(error, requestId), body: JSON.stringify({ message: error.message }), delayMs: 0 };
}

// Bedrock's load-shedding answer (anthropics/claude-code#562, langchain-ai/langchain-aws#968).
const TOO_MANY_CONNECTIONS = "Too many connections, please wait before trying again.";
const QUOTA_MESSAGES = {
  rpm: "Too many requests, please wait before trying again.",
  tpm: "Too many tokens, please wait before trying again.",
  tpd: "Too many tokens per day, please wait before trying again.",
} as const;

/** The answer of a Region that is down (unavailableRegions): one port cannot refuse connections, so 503, which the SDK retries. */
export function regionDownError(region: string): AwsError {
  return awsError("ServiceUnavailableException", `The service is unavailable in ${region} right now (emulated Region outage). Try again later.`);
}

/** Answers POST /model/{modelId}/converse the way Bedrock would, with the simulated classifier as the model. */
export function handleConverse(
  state: EmulatorState,
  modelId: string,
  rawBody: string,
  requestId: string,
  identity: RequestIdentity,
  custom?: InvocationTarget | AwsError,
): EmulatorResponse {
  state.stats.call(modelId);
  if (state.unavailableRegions.has(identity.region)) return errorResponse(state, regionDownError(identity.region), requestId);
  const input = parseConverseBody(rawBody);
  if (isAwsError(input)) return errorResponse(state, input, requestId);
  // A custom model deployment or Provisioned Throughput answers as its custom model: the base
  // model's rules and the error model its customization job was created with.
  if (custom !== undefined && isAwsError(custom)) return errorResponse(state, custom, requestId);
  const model = custom?.model ?? resolveModel(modelId, state.lenient, identity.signedRegion);
  if (isAwsError(model)) return errorResponse(state, model, requestId);
  const labelErrors = custom?.labelErrors ?? state.labelErrors;
  const counting: TokenCounting = state.lenient.has("tokenizer") ? "chars" : model.tokenizer;
  const allInputTokens = sumTokens(input.inputTexts, counting);
  const refusal = refuseForModel(model, input, state.lenient, allInputTokens) ?? refuseTier(model, input.serviceTier, identity.signedRegion, state.lenient);
  if (refusal !== undefined) return errorResponse(state, refusal, requestId);
  if (state.unavailableModels.has(modelId)) {
    return errorResponse(state, awsError("ServiceUnavailableException", `Model ${modelId} is unavailable in this Region right now. Try again later.`), requestId);
  }
  // Flex sheds first: it gets only its share of the concurrency cap (and of the quota, below).
  const flex = input.serviceTier === "flex";
  const concurrencyCap = flex ? Math.floor(state.maxConcurrent * (state.quota.quota.flexShedAt ?? DEFAULT_FLEX_SHED_AT)) : state.maxConcurrent;
  if (state.maxConcurrent > 0 && state.inFlight >= concurrencyCap) {
    return errorResponse(state, awsError("ServiceUnavailableException", TOO_MANY_CONNECTIONS), requestId);
  }

  const draw = state.faults.draw(modelId);
  if (draw.error !== undefined) {
    state.stats.faults(draw.commit([draw.error]));
    return errorResponse(state, errorForFault(draw.error), requestId);
  }

  const { answer, outputCap } = simulateModel(input, model, { seed: state.seed, faults: draw.output, random: state.faults.random, counting, labelErrors });
  const cache = model.promptCacheMinTokens === undefined ? undefined : cacheUse(state, modelId, input, model, counting);
  const cacheRead = cache?.hit === true ? cache.tokens : 0;
  const cacheWrite = cache?.hit === false ? cache.tokens : 0;

  // Lenient: every input and output token counted once, as the emulator used to. Strict: what
  // Bedrock reserves at the start (input + cache + maxTokens) and settles to at the end
  // (input + cache writes + output x burn-down; cache reads are released). Sources: docs
  // quotas-token-burndown; aws/agent-toolkit-for-aws quota-health.
  const strictQuota = !state.lenient.has("quota-reservation");
  const reserve = strictQuota ? allInputTokens + (outputCap ?? answer.outputTokens) : allInputTokens + answer.outputTokens;
  const settled = strictQuota ? allInputTokens - cacheRead + answer.outputTokens * model.outputBurndown : reserve;
  const reservation = state.quota.tryReserve({ account: identity.account, region: identity.region, modelId }, reserve, flex);
  if (isRefusal(reservation)) {
    return errorResponse(state, awsError("ThrottlingException", QUOTA_MESSAGES[reservation.reason], reservation.retryAfterSeconds), requestId);
  }
  // Written or refreshed only once the call is accepted: a refused call leaves the cache as it was.
  if (cache?.key !== undefined) state.promptCache.touch(cache.key);
  // Cached tokens are reported apart from inputTokens, as Bedrock does; the sum stays the same.
  const inputTokens = allInputTokens - cacheRead - cacheWrite;
  state.stats.faults(draw.commit(answer.applied));
  state.stats.success(modelId, inputTokens, answer.outputTokens, { read: cacheRead, write: cacheWrite });

  const { fixedMs, perOutputTokenMs } = state.latency;
  const delayMs = Math.round(fixedMs + perOutputTokenMs * answer.outputTokens);
  // Only when the request had a system cache point, so other answers keep their shape.
  const cacheUsage = cache === undefined ? undefined : { cacheReadInputTokens: cacheRead, cacheWriteInputTokens: cacheWrite };
  // The tier that served the call, as the response's serviceTier (only when one was asked for).
  const tier = input.serviceTier === undefined ? {} : { serviceTier: { type: input.serviceTier } };
  const body = { ...converseResponseBody(answer, inputTokens, allInputTokens, delayMs, cacheUsage), ...tier };
  state.inFlight += 1;
  return {
    status: 200,
    headers: { "content-type": "application/json", "x-amzn-requestid": requestId },
    body: JSON.stringify(body),
    delayMs,
    onSent: () => {
      state.inFlight -= 1;
      reservation.settle(settled);
    },
  };
}

/** What the simulated model needs besides the request: the seed, the faults drawn for the call and the token counting. */
export interface SimulationContext {
  seed: number;
  faults: OutputFaultKind[];
  random: () => number;
  counting: TokenCounting;
  labelErrors: LabelErrorOptions;
}

/**
 * The simulated model's answer to a parsed, accepted Converse request, with no quota, stats,
 * prompt cache or latency: the Converse route adds those; batch jobs, which do not use the
 * on-demand quota, call this directly. outputCap is what the model stops at (and what Bedrock
 * reserves): maxTokens, else the model's own cap.
 */
export function simulateModel(input: ConverseInput, model: BedrockModel, ctx: SimulationContext): { answer: Answer; outputCap: number | undefined } {
  const outputCap = input.maxTokens ?? (Number.isFinite(model.maxOutputTokens) ? model.maxOutputTokens : undefined);
  const answer = buildAnswer({ ...input, maxTokens: outputCap }, ctx.seed, ctx.faults, ctx.random, ctx.counting, ctx.labelErrors);
  return { answer, outputCap };
}

/** The Converse response body for an answer, as Bedrock shapes it. inputTokens excludes cached tokens; allInputTokens includes them. */
export function converseResponseBody(
  answer: Answer,
  inputTokens: number,
  allInputTokens: number,
  latencyMs: number,
  cacheUsage?: { cacheReadInputTokens: number; cacheWriteInputTokens: number },
) {
  return {
    output: { message: { role: "assistant", content: [answer.content] } },
    stopReason: answer.stopReason,
    usage: { inputTokens, outputTokens: answer.outputTokens, totalTokens: allInputTokens + answer.outputTokens, ...cacheUsage },
    metrics: { latencyMs },
  };
}

/**
 * The cached prefix a request names (per model: the tools, then the system text up to its
 * cache point), and whether it is cached now. A prefix shorter than the model's minimum is
 * not cached: both cache fields stay 0 and every token is ordinary input (key undefined).
 */
function cacheUse(
  state: EmulatorState,
  modelId: string,
  input: ConverseInput,
  model: BedrockModel,
  counting: TokenCounting,
): { key: string | undefined; tokens: number; hit: boolean | undefined } | undefined {
  if (input.systemCachePrefix === undefined) return undefined;
  const tokens = sumTokens(input.systemCacheTexts, counting);
  const minimum = state.lenient.has("cache-minimum") ? 0 : (model.promptCacheMinTokens ?? 0);
  if (tokens < minimum) return { key: undefined, tokens: 0, hit: undefined };
  const key = [modelId, input.tools?.fingerprint ?? "", input.systemCachePrefix].join("\u0000");
  return { key, tokens, hit: state.promptCache.has(key) };
}
