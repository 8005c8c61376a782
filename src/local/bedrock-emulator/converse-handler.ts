import { buildAnswer } from "./answer.ts";
import { AWS_ERRORS, awsError, errorForFault, errorHeaders, type AwsError } from "./aws-errors.ts";
import { isAwsError, parseConverseBody, type ConverseInput } from "./converse-request.ts";
import { behaviourOf, refuseForModel } from "./model-behaviours.ts";
import type { EmulatorState } from "./state.ts";
import { estimateTokens } from "./tokens.ts";

/** An HTTP answer, to be sent after delayMs. */
export interface EmulatorResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  delayMs: number;
}

/** Sends an AWS-shaped error and counts it. */
export function errorResponse(state: EmulatorState | undefined, error: AwsError, requestId: string): EmulatorResponse {
  state?.stats.error(error.name);
  return { status: AWS_ERRORS[error.name], headers: errorHeaders(error, requestId), body: JSON.stringify({ message: error.message }), delayMs: 0 };
}

/** Answers POST /model/{modelId}/converse the way Bedrock would, with the simulated classifier as the model. */
export function handleConverse(state: EmulatorState, modelId: string, rawBody: string, requestId: string): EmulatorResponse {
  state.stats.call(modelId);
  const input = parseConverseBody(rawBody);
  if (isAwsError(input)) return errorResponse(state, input, requestId);
  const behaviour = behaviourOf(modelId);
  const refusal = refuseForModel(behaviour, input);
  if (refusal !== undefined) return errorResponse(state, refusal, requestId);
  if (state.unavailableModels.has(modelId)) {
    return errorResponse(state, awsError("ServiceUnavailableException", `Model ${modelId} is unavailable in this Region right now. Try again later.`), requestId);
  }

  const draw = state.faults.draw(modelId);
  if (draw.error !== undefined) {
    state.stats.faults(draw.commit([draw.error]));
    return errorResponse(state, errorForFault(draw.error), requestId);
  }

  const answer = buildAnswer(input, state.seed, draw.output, state.faults.random);
  const allInputTokens = estimateTokens(input.allText);
  const cache = behaviour.promptCache ? cacheUse(state, modelId, input) : undefined;
  // The quota counts every input token, cached or not.
  const overQuota = state.quota.tryAccept(allInputTokens + answer.outputTokens);
  if (overQuota !== undefined) {
    const what = overQuota.reason === "rpm" ? "requests" : "tokens";
    return errorResponse(state, awsError("ThrottlingException", `Too many ${what}, please wait before trying again.`, overQuota.retryAfterSeconds), requestId);
  }
  // Written or refreshed only once the call is accepted: a refused call leaves the cache as it was.
  if (cache !== undefined) state.promptCache.touch(cache.key);
  const cacheRead = cache?.hit ? cache.tokens : 0;
  const cacheWrite = cache !== undefined && !cache.hit ? cache.tokens : 0;
  // Cached tokens are reported apart from inputTokens, as Bedrock does; the sum stays the same.
  const inputTokens = Math.max(0, allInputTokens - cacheRead - cacheWrite);
  state.stats.faults(draw.commit(answer.applied));
  state.stats.success(modelId, inputTokens, answer.outputTokens, { read: cacheRead, write: cacheWrite });

  const { fixedMs, perOutputTokenMs } = state.latency;
  const delayMs = Math.round(fixedMs + perOutputTokenMs * answer.outputTokens);
  const body = {
    output: { message: { role: "assistant", content: [answer.content] } },
    stopReason: answer.stopReason,
    usage: {
      inputTokens,
      outputTokens: answer.outputTokens,
      totalTokens: inputTokens + cacheRead + cacheWrite + answer.outputTokens,
      // Only when the request had a cache point, so other answers keep today's shape.
      ...(cache === undefined ? {} : { cacheReadInputTokens: cacheRead, cacheWriteInputTokens: cacheWrite }),
    },
    metrics: { latencyMs: delayMs },
  };
  return { status: 200, headers: { "content-type": "application/json", "x-amzn-requestid": requestId }, body: JSON.stringify(body), delayMs };
}

/** The cached prefix a request names (per model: the tools, then the system text up to its cache point), and whether it is cached now. */
function cacheUse(state: EmulatorState, modelId: string, input: ConverseInput): { key: string; tokens: number; hit: boolean } | undefined {
  if (input.systemCachePrefix === undefined) return undefined;
  const key = [modelId, input.tools?.fingerprint ?? "", input.systemCachePrefix].join("\u0000");
  return { key, tokens: estimateTokens(input.systemCachePrefix), hit: state.promptCache.has(key) };
}
