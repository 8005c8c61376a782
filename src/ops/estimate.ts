import { costUsd, MODELS, type ModelSpec } from "../llm/model-registry.ts";
import { countTokens } from "../llm/token-estimator.ts";
import type { ResolvedPrompt } from "../prompts/prompt-registry.ts";
import { renderUserMessage } from "../prompts/render-prompt.ts";
import type { InputText } from "../producer/read-texts.ts";

export interface ModelEstimate {
  model: ModelSpec;
  calls: number;
  /** The system prompt as this model's tokenizer counts it. */
  systemPromptTokens: number;
  /** One text's answer object, as this model's tokenizer counts it. */
  outputTokensPerText: number;
  inputTokens: number;
  outputTokens: number;
  /** What the run burns of the tokens-per-minute quota: input plus output x the model's burn-down rate. */
  quotaTokens: number;
  costUsd: number;
  /** False when one call's prompt, texts and answer cannot fit the model's context or output cap. */
  fits: boolean;
}

export interface Estimate {
  texts: number;
  batches: number;
  /** Llama 3 tokens of the system prompt (the real tokenizer; other families are approximated from it). */
  systemPromptTokens: number;
  /** Llama 3 tokens of one text's answer object. */
  outputTokensPerText: number;
  models: ModelEstimate[];
}

/**
 * Budget a run before enqueueing: calls, tokens, quota and list-price cost per model, for one
 * clean pass with no cache hits, counted with each model's tokenizer (see token-estimator).
 * Re-asks after invalid output add calls; cached texts remove them.
 */
export function estimateRun(
  texts: readonly InputText[],
  prompt: ResolvedPrompt,
  options: { batchSize: number; chunkSize: number; models?: readonly ModelSpec[] },
): Estimate {
  const perCall = Math.min(options.batchSize, options.chunkSize);
  const batches = Math.ceil(texts.length / options.batchSize);
  const chunks: string[] = [];
  for (let b = 0; b < texts.length; b += options.batchSize) {
    const batch = texts.slice(b, b + options.batchSize);
    for (let c = 0; c < batch.length; c += perCall) chunks.push(renderUserMessage(batch.slice(c, c + perCall).map((t) => t.text)));
  }
  // One answer object per text, the size of the format's own example (codes are short and fixed-width).
  const example = `${/Shape: \{"r":\[(\{.*?\})/.exec(prompt.system)?.[1] ?? "{}"},`;
  const estimateFor = (model: ModelSpec): ModelEstimate => {
    const count = (text: string) => countTokens(text, model.tokenizer);
    const systemPromptTokens = count(prompt.system);
    const outputTokensPerText = count(example);
    const userTokens = chunks.map(count);
    const inputTokens = chunks.length * systemPromptTokens + userTokens.reduce((a, b) => a + b, 0);
    // The answer's wrapper ({"r":[ ... ]}) is a few tokens per call.
    const outputTokens = texts.length * outputTokensPerText + chunks.length * 4;
    const largestAnswer = Math.min(perCall, texts.length) * outputTokensPerText + 4;
    return {
      model,
      calls: chunks.length,
      systemPromptTokens,
      outputTokensPerText,
      inputTokens,
      outputTokens,
      quotaTokens: inputTokens + outputTokens * model.outputBurnDown,
      costUsd: costUsd(model, inputTokens, outputTokens),
      fits: largestAnswer <= model.maxOutputTokens && systemPromptTokens + Math.max(0, ...userTokens) + largestAnswer <= model.contextTokens,
    };
  };
  return {
    texts: texts.length,
    batches,
    systemPromptTokens: countTokens(prompt.system, { kind: "llama3" }),
    outputTokensPerText: countTokens(example, { kind: "llama3" }),
    models: (options.models ?? MODELS).map(estimateFor),
  };
}

/** The estimate as a terminal table. */
export function formatEstimate(e: Estimate, taxonomy: string, version: string): string {
  const lines = [
    `${e.texts} texts in ${e.batches} batches; taxonomy ${taxonomy} ${version}; system prompt ${e.systemPromptTokens} Llama 3 tokens; ${e.outputTokensPerText} output tokens per text`,
    "",
    "model            calls  input tokens  output tokens  quota tokens  cost USD   per 1,000 texts",
  ];
  for (const m of e.models) {
    lines.push(
      `${m.model.alias.padEnd(16)} ${String(m.calls).padStart(5)}  ${String(m.inputTokens).padStart(12)}  ${String(m.outputTokens).padStart(13)}  ${String(m.quotaTokens).padStart(12)}  ${m.costUsd.toFixed(4).padStart(8)}   ${((1000 * m.costUsd) / Math.max(1, e.texts)).toFixed(4)}${m.fits ? "" : "   (does not fit the model's context or output cap)"}`,
    );
  }
  const dates = [...new Set(e.models.map((m) => m.model.price.asOf))].sort();
  lines.push(
    "",
    `Tokens: Llama 3's tokenizer; Claude and Nova approximated from it. Quota tokens: input + output x the model's burn-down rate.`,
    `List prices as of ${dates.join(", ") || "?"} (sources in the model catalogue); one clean pass, no cache hits, no re-asks.`,
  );
  return lines.join("\n");
}
