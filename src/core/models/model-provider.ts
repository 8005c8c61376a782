import type { OutputFormat } from "../prompts/output-format.ts";
import type { InferenceParams } from "../prompts/prompt-registry.ts";
import type { ServiceTier } from "./service-tiers.ts";

/** One call to a chat model: a system prompt and one user turn. */
export interface ModelRequest {
  modelId: string;
  system: string;
  user: string;
  inference: InferenceParams;
  /** The answer format the system prompt asks for (the model's, from the catalogue); not sent, the prompt says it. */
  format: OutputFormat;
  /**
   * Force the answer into this JSON Schema by tool use (only on models whose registry entry has
   * capabilities.structuredOutput "tool"). The response text is then the tool input as JSON, so
   * the parse and validate path is the same as for JSON written as text.
   */
  structuredOutput?: { schema: Record<string, unknown> };
  /** Mark the system prompt as a cache prefix (Bedrock cachePoint); only on models with capabilities.promptCache. */
  cacheSystemPrompt?: boolean;
  /**
   * Converse serviceTier to send, as tierFor chose it for the call's Region (the request's or the
   * policy's tier, else its quota pool's); sent as given. Absent: none is sent.
   */
  serviceTier?: ServiceTier;
}

export interface ModelResponse {
  text: string;
  /** "end_turn", "max_tokens", "tool_use", ... as the service reports it. */
  stopReason: string;
  /**
   * Token counts as the service reports them. Input tokens read from or written to the prompt
   * cache are reported apart from inputTokens, not included in it.
   */
  usage: { inputTokens: number; outputTokens: number; cacheReadInputTokens?: number; cacheWriteInputTokens?: number };
  /** The tier that served the call, when it was sent with one (the response's serviceTier, else the tier sent). */
  serviceTier?: ServiceTier;
}

/** What the classifier needs of a model service; Bedrock implements it, unit tests fake it. */
export interface ModelProvider {
  /** Send one request; throws ModelCallError (retryable or not) on failure. */
  converse(request: ModelRequest, signal?: AbortSignal): Promise<ModelResponse>;
}
