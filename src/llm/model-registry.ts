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
  };
  contextTokens: number;
  maxOutputTokens: number;
  /** USD per 1,000 tokens, on-demand in us-east-1. */
  price: { inputPer1k: number; outputPer1k: number; asOf: string };
  inference: { temperature: number; topP: number };
}

const PRICES_AS_OF = "2026-11-01";

export const MODELS: readonly ModelSpec[] = [
  {
    alias: "llama3-70b",
    modelId: "meta.llama3-70b-instruct-v1:0",
    family: "llama",
    capabilities: { toolUse: false, promptCache: false },
    contextTokens: 8_192,
    maxOutputTokens: 2_048,
    price: { inputPer1k: 0.00265, outputPer1k: 0.0035, asOf: PRICES_AS_OF },
    inference: { temperature: 0.5, topP: 0.9 },
  },
  {
    alias: "llama3.3-70b",
    modelId: "us.meta.llama3-3-70b-instruct-v1:0",
    family: "llama",
    // Llama 3.3 accepts tools but rejects forced toolChoice: JSON in text is the reliable path.
    capabilities: { toolUse: false, promptCache: false },
    contextTokens: 128_000,
    maxOutputTokens: 8_192,
    price: { inputPer1k: 0.00072, outputPer1k: 0.00072, asOf: PRICES_AS_OF },
    inference: { temperature: 0.5, topP: 0.9 },
  },
  {
    alias: "claude-sonnet",
    modelId: "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    family: "claude",
    capabilities: { toolUse: true, promptCache: true },
    contextTokens: 200_000,
    maxOutputTokens: 64_000,
    price: { inputPer1k: 0.003, outputPer1k: 0.015, asOf: PRICES_AS_OF },
    inference: { temperature: 0.5, topP: 0.9 },
  },
  {
    alias: "claude-haiku",
    modelId: "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    family: "claude",
    capabilities: { toolUse: true, promptCache: true },
    contextTokens: 200_000,
    maxOutputTokens: 64_000,
    price: { inputPer1k: 0.001, outputPer1k: 0.005, asOf: PRICES_AS_OF },
    inference: { temperature: 0.5, topP: 0.9 },
  },
];

const byAlias = new Map(MODELS.map((m) => [m.alias, m]));

/** The model behind an alias, or undefined. */
export function findModel(alias: string): ModelSpec | undefined {
  return byAlias.get(alias);
}

/** Cost in USD of a call's tokens at the model's list price. */
export function costUsd(model: ModelSpec, inputTokens: number, outputTokens: number): number {
  return (inputTokens / 1000) * model.price.inputPer1k + (outputTokens / 1000) * model.price.outputPer1k;
}
