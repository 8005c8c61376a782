import { type BedrockRuntimeClient, ConverseCommand, type ConverseCommandOutput } from "@aws-sdk/client-bedrock-runtime";
import { ModelCallError } from "../errors/errors.ts";
import type { ModelProvider, ModelRequest, ModelResponse } from "./model-provider.ts";

/** ModelProvider over the Bedrock Converse API. The client (retries, timeouts, endpoint) is built from config elsewhere. */
export class BedrockProvider implements ModelProvider {
  readonly #client: BedrockRuntimeClient;

  constructor(client: BedrockRuntimeClient) {
    this.#client = client;
  }

  async converse(request: ModelRequest, signal?: AbortSignal): Promise<ModelResponse> {
    let out: ConverseCommandOutput;
    try {
      out = await this.#client.send(
        new ConverseCommand({
          modelId: request.modelId,
          system: [{ text: request.system }],
          messages: [{ role: "user", content: [{ text: request.user }] }],
          inferenceConfig: {
            maxTokens: request.inference.maxTokens,
            temperature: request.inference.temperature,
            topP: request.inference.topP,
          },
        }),
        { abortSignal: signal },
      );
    } catch (error) {
      throw toModelCallError(request.modelId, error);
    }
    const text = (out.output?.message?.content ?? []).map((c) => c.text ?? "").join("");
    return {
      text,
      stopReason: out.stopReason ?? "end_turn",
      usage: { inputTokens: out.usage?.inputTokens ?? 0, outputTokens: out.usage?.outputTokens ?? 0 },
    };
  }
}

const throttled = new Set(["ThrottlingException", "TooManyRequestsException", "ServiceQuotaExceededException"]);
const unavailable = new Set(["ServiceUnavailableException", "ModelNotReadyException", "InternalServerException"]);
const timeout = new Set(["ModelTimeoutException", "TimeoutError", "RequestTimeout", "AbortError"]);
const rejected = new Set(["ValidationException", "AccessDeniedException", "ResourceNotFoundException", "UnrecognizedClientException"]);

/** Classify an SDK error once: this is the only place that decides which Bedrock failures are retryable. */
export function toModelCallError(modelId: string, error: unknown): ModelCallError {
  const e = error as { name?: string; message?: string; code?: string; $response?: { headers?: Record<string, string> } };
  const name = e.name ?? "Error";
  const message = `${name} from ${modelId}: ${e.message ?? String(error)}`;
  const retryAfter = Number(e.$response?.headers?.["retry-after"]);
  const options = { cause: error, retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : undefined };
  if (throttled.has(name)) return new ModelCallError("MODEL_THROTTLED", modelId, message, options);
  if (unavailable.has(name)) return new ModelCallError("MODEL_UNAVAILABLE", modelId, message, options);
  if (timeout.has(name)) return new ModelCallError("MODEL_TIMEOUT", modelId, message, options);
  if (rejected.has(name)) return new ModelCallError("MODEL_REJECTED_REQUEST", modelId, message, options);
  if (name === "ModelErrorException") return new ModelCallError("MODEL_ERROR", modelId, message, options);
  // Network failures (ECONNREFUSED, ECONNRESET, ...) and anything unknown: the service may answer later.
  return new ModelCallError("MODEL_UNAVAILABLE", modelId, message, options);
}
