import { costUsd, MODELS, type ModelSpec } from "../llm/model-registry.ts";
import type { ResolvedPrompt } from "../prompts/prompt-registry.ts";
import { renderUserMessage } from "../prompts/render-prompt.ts";
import type { InputText } from "../producer/read-texts.ts";

/** ~4 characters per token: the same estimate the limiter weighs calls with. */
const tokens = (chars: number) => Math.ceil(chars / 4);

export interface ModelEstimate {
  model: ModelSpec;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** False when one call's prompt and output cannot fit the model's context. */
  fits: boolean;
}

export interface Estimate {
  texts: number;
  batches: number;
  systemPromptTokens: number;
  outputTokensPerText: number;
  models: ModelEstimate[];
}

/**
 * Budget a run before enqueueing: calls, tokens and list-price cost per model, for one clean
 * pass with no cache hits. Re-asks after invalid output add calls; cached texts remove them.
 */
export function estimateRun(texts: readonly InputText[], prompt: ResolvedPrompt, options: { batchSize: number; chunkSize: number }): Estimate {
  const perCall = Math.min(options.batchSize, options.chunkSize);
  const batches = Math.ceil(texts.length / options.batchSize);
  const chunks: (readonly InputText[])[] = [];
  for (let b = 0; b < texts.length; b += options.batchSize) {
    const batch = texts.slice(b, b + options.batchSize);
    for (let c = 0; c < batch.length; c += perCall) chunks.push(batch.slice(c, c + perCall));
  }
  const systemPromptTokens = tokens(prompt.system.length);
  // One answer object per text, the size of the format's own example (codes are short and fixed-width).
  const example = /Shape: \{"r":\[(\{.*?\})/.exec(prompt.system)?.[1] ?? "{}";
  const outputTokensPerText = tokens(example.length + 1);
  const userTokens = chunks.reduce((n, c) => n + tokens(renderUserMessage(c.map((t) => t.text)).length), 0);
  const inputTokens = chunks.length * systemPromptTokens + userTokens;
  const outputTokens = texts.length * outputTokensPerText + chunks.length * 4;
  const largest = Math.max(0, ...chunks.map((c) => tokens(renderUserMessage(c.map((t) => t.text)).length)));
  return {
    texts: texts.length,
    batches,
    systemPromptTokens,
    outputTokensPerText,
    models: MODELS.map((model) => ({
      model,
      calls: chunks.length,
      inputTokens,
      outputTokens,
      costUsd: costUsd(model, inputTokens, outputTokens),
      fits: systemPromptTokens + largest + model.maxOutputTokens <= model.contextTokens,
    })),
  };
}

/** The estimate as a terminal table. */
export function formatEstimate(e: Estimate, taxonomy: string, version: string): string {
  const lines = [
    `${e.texts} texts in ${e.batches} batches; taxonomy ${taxonomy} ${version}; system prompt ~${e.systemPromptTokens} tokens; ~${e.outputTokensPerText} output tokens per text`,
    "",
    "model          calls  input tokens  output tokens  cost USD   per 1,000 texts",
  ];
  for (const m of e.models) {
    lines.push(
      `${m.model.alias.padEnd(14)} ${String(m.calls).padStart(5)}  ${String(m.inputTokens).padStart(12)}  ${String(m.outputTokens).padStart(13)}  ${m.costUsd.toFixed(4).padStart(8)}   ${((1000 * m.costUsd) / Math.max(1, e.texts)).toFixed(4)}${m.fits ? "" : "   (prompt does not fit the model's context)"}`,
    );
  }
  lines.push("", `List prices as of ${e.models[0]?.model.price.asOf ?? "?"}; one clean pass, no cache hits, no re-asks.`);
  return lines.join("\n");
}
