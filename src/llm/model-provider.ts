import type { InferenceParams } from "../prompts/prompt-registry.ts";

/** One call to a chat model: a system prompt and one user turn. */
export interface ModelRequest {
  modelId: string;
  system: string;
  user: string;
  inference: InferenceParams;
}

export interface ModelResponse {
  text: string;
  /** "end_turn", "max_tokens", ... as the service reports it. */
  stopReason: string;
  usage: { inputTokens: number; outputTokens: number };
}

/** What the classifier needs of a model service; Bedrock implements it, unit tests fake it. */
export interface ModelProvider {
  /** Send one request; throws ModelCallError (retryable or not) on failure. */
  converse(request: ModelRequest, signal?: AbortSignal): Promise<ModelResponse>;
}
