import type { SamplingRules } from "./sampling.ts";

/**
 * The models labelq can call, in one place: aliases requests may name, the Bedrock model or
 * inference-profile ids behind them, what each supports, and list prices for cost accounting.
 */
export interface ModelSpec {
  alias: string;
  /** Bedrock model id or cross-region inference profile id. */
  modelId: string;
  family: "llama" | "claude";
  capabilities: {
    /** Forced tool use (toolChoice: tool) for structured output. */
    toolUse: boolean;
    /** Bedrock prompt caching (cachePoint). */
    promptCache: boolean;
    /**
     * How to force the answer into the output JSON Schema: "tool" sends it as a forced tool's
     * inputSchema (needs toolUse); "none" relies on the prompt's JSON-in-text instructions.
     */
    structuredOutput: "tool" | "none";
  };
  contextTokens: number;
  maxOutputTokens: number;
  /**
   * USD per 1,000 tokens, on-demand in us-east-1. Cache prices only for models with prompt
   * caching: reads from and writes to the prompt cache are priced apart from other input.
   */
  price: { inputPer1k: number; outputPer1k: number; cacheReadPer1k?: number; cacheWritePer1k?: number; asOf: string };
  /** Which sampling parameters the model takes, and the values sent by default. */
  sampling: SamplingRules;
}

const PRICES_AS_OF = "2026-11-01";

/** Claude's prompt-cache prices (5-minute cache): reads at 10% of the input price, writes at 125%. */
function claudeCachePrices(inputPer1k: number): { cacheReadPer1k: number; cacheWritePer1k: number } {
  return { cacheReadPer1k: inputPer1k * 0.1, cacheWritePer1k: inputPer1k * 1.25 };
}

export const MODELS: readonly ModelSpec[] = [
  {
    alias: "llama3-70b",
    modelId: "meta.llama3-70b-instruct-v1:0",
    family: "llama",
    // No tool use at all on Bedrock: a toolConfig is a ValidationException.
    capabilities: { toolUse: false, promptCache: false, structuredOutput: "none" },
    contextTokens: 8_192,
    maxOutputTokens: 2_048,
    price: { inputPer1k: 0.00265, outputPer1k: 0.0035, asOf: PRICES_AS_OF },
    sampling: { accepts: ["temperature", "topP"], oneOf: false, defaults: { temperature: 0.5, topP: 0.9 } },
  },
  {
    alias: "llama3.3-70b",
    modelId: "us.meta.llama3-3-70b-instruct-v1:0",
    family: "llama",
    // Llama 3.3 accepts tools but rejects forced toolChoice: JSON in text is the reliable path.
    capabilities: { toolUse: false, promptCache: false, structuredOutput: "none" },
    contextTokens: 128_000,
    maxOutputTokens: 8_192,
    price: { inputPer1k: 0.00072, outputPer1k: 0.00072, asOf: PRICES_AS_OF },
    sampling: { accepts: ["temperature", "topP"], oneOf: false, defaults: { temperature: 0.5, topP: 0.9 } },
  },
  {
    alias: "claude-sonnet",
    modelId: "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    family: "claude",
    capabilities: { toolUse: true, promptCache: true, structuredOutput: "tool" },
    contextTokens: 200_000,
    maxOutputTokens: 64_000,
    price: { inputPer1k: 0.003, outputPer1k: 0.015, ...claudeCachePrices(0.003), asOf: PRICES_AS_OF },
    // Claude 4.5 refuses temperature and topP together (ValidationException, mem0ai/mem0#3891).
    sampling: { accepts: ["temperature", "topP"], oneOf: true, defaults: { temperature: 0.5 } },
  },
  {
    alias: "claude-haiku",
    modelId: "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    family: "claude",
    capabilities: { toolUse: true, promptCache: true, structuredOutput: "tool" },
    contextTokens: 200_000,
    maxOutputTokens: 64_000,
    price: { inputPer1k: 0.001, outputPer1k: 0.005, ...claudeCachePrices(0.001), asOf: PRICES_AS_OF },
    // Claude 4.5 refuses temperature and topP together (ValidationException, mem0ai/mem0#3891).
    sampling: { accepts: ["temperature", "topP"], oneOf: true, defaults: { temperature: 0.5 } },
  },
];

const byAlias = new Map(MODELS.map((m) => [m.alias, m]));

/** The model behind an alias, or undefined. */
export function findModel(alias: string): ModelSpec | undefined {
  return byAlias.get(alias);
}

/** Prompt-cache tokens of one call, as Bedrock reports them (usage.cacheReadInputTokens / cacheWriteInputTokens). */
export interface CacheTokens {
  readTokens?: number;
  writeTokens?: number;
}

/** Cost in USD of a call's tokens at the model's list price. */
export function costUsd(model: ModelSpec, inputTokens: number, outputTokens: number, cache?: CacheTokens): number {
  const { inputPer1k, outputPer1k, cacheReadPer1k, cacheWritePer1k } = model.price;
  // Bedrock reports cache reads and writes apart from inputTokens (inputTokens is only the
  // uncached part), so the three are added, never subtracted. A model without cache prices
  // should never report cache tokens; if it does, they are charged as ordinary input.
  const readTokens = cache?.readTokens ?? 0;
  const writeTokens = cache?.writeTokens ?? 0;
  return (
    (inputTokens / 1000) * inputPer1k +
    (readTokens / 1000) * (cacheReadPer1k ?? inputPer1k) +
    (writeTokens / 1000) * (cacheWritePer1k ?? inputPer1k) +
    (outputTokens / 1000) * outputPer1k
  );
}
