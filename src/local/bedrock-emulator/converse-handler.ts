import { buildAnswer } from "./answer.ts";
import { AWS_ERRORS, awsError, errorForFault, errorHeaders, type AwsError } from "./aws-errors.ts";
import { isAwsError, parseConverseBody } from "./converse-request.ts";
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
  if (state.unavailableModels.has(modelId)) {
    return errorResponse(state, awsError("ServiceUnavailableException", `Model ${modelId} is unavailable in this Region right now. Try again later.`), requestId);
  }

  const draw = state.faults.draw(modelId);
  if (draw.error !== undefined) {
    state.stats.faults(draw.commit([draw.error]));
    return errorResponse(state, errorForFault(draw.error), requestId);
  }

  const answer = buildAnswer(input, state.seed, draw.output, state.faults.random);
  const inputTokens = estimateTokens(input.allText);
  const refusal = state.quota.tryAccept(inputTokens + answer.outputTokens);
  if (refusal !== undefined) {
    const what = refusal.reason === "rpm" ? "requests" : "tokens";
    return errorResponse(state, awsError("ThrottlingException", `Too many ${what}, please wait before trying again.`, refusal.retryAfterSeconds), requestId);
  }
  state.stats.faults(draw.commit(answer.applied));
  state.stats.success(modelId, inputTokens, answer.outputTokens);

  const { fixedMs, perOutputTokenMs } = state.latency;
  const delayMs = Math.round(fixedMs + perOutputTokenMs * answer.outputTokens);
  const body = {
    output: { message: { role: "assistant", content: [answer.content] } },
    stopReason: answer.stopReason,
    usage: { inputTokens, outputTokens: answer.outputTokens, totalTokens: inputTokens + answer.outputTokens },
    metrics: { latencyMs: delayMs },
  };
  return { status: 200, headers: { "content-type": "application/json", "x-amzn-requestid": requestId }, body: JSON.stringify(body), delayMs };
}
