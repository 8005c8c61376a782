import { planChunks, textsPerCall } from "../../core/classify/classify-items.ts";
import { fitsContext, planCall } from "../../core/classify/call-model.ts";
import { answerTokensPerText } from "../../core/classify/output-budget.ts";
import { reservedTokens } from "../../core/quota/bedrock-quota.ts";
import { costUsd, MODELS, type ModelSpec } from "../../core/models/model-registry.ts";
import { resolveInference } from "../../core/models/sampling.ts";
import { countTokens } from "../../core/models/token-estimator.ts";
import type { OutputFormat } from "../../core/prompts/output-format.ts";
import { forFormat, type ResolvedPrompt } from "../../core/prompts/prompt-registry.ts";
import type { InputText } from "../producer/read-texts.ts";

/** Tokens per text: what the model reads, writes and what Bedrock reserves against tokens per minute. */
export interface PerText {
  input: number;
  output: number;
  reserved: number;
}

export interface ModelEstimate {
  model: ModelSpec;
  /** The answer format the catalogue gives the model. */
  format: OutputFormat;
  calls: number;
  /** The most texts a planned call holds (bounded by the output cap in this format, the context and LABELQ_CHUNK_SIZE). */
  textsPerCall: number;
  /** The system prompt, rendered for the model's format, as its tokenizer counts it. */
  systemPromptTokens: number;
  /** Output tokens budgeted per text (typical line, or the longest JSON object). */
  outputTokensPerText: number;
  inputTokens: number;
  outputTokens: number;
  /** What the calls reserve against tokens per minute while they run: input, cache and maxTokens. */
  reservedTokens: number;
  /** What the run burns of the tokens-per-minute quota once the calls end: input plus output x the model's burn-down rate. */
  quotaTokens: number;
  perText: PerText;
  costUsd: number;
  /** False when one call's prompt, texts and answer cannot fit the model's context or output cap. */
  fits: boolean;
}

export interface Estimate {
  texts: number;
  batches: number;
  models: ModelEstimate[];
}

/**
 * Budget a run before enqueueing: calls, tokens, quota reserved and list-price cost per model,
 * for one clean pass with no cache hits. Texts are cut into calls and each call is planned as the
 * worker's first round does it (planChunks, planCall: the model's answer format, chunk sizing,
 * context splits, maxTokens, its tokenizer), for each model as the primary with no fallback.
 * Re-asks after invalid output add calls; cached texts remove them.
 */
export function estimateRun(
  texts: readonly InputText[],
  prompt: ResolvedPrompt,
  options: { batchSize: number; chunkSize: number; models?: readonly ModelSpec[] },
): Estimate {
  const batches: InputText[][] = [];
  for (let b = 0; b < texts.length; b += options.batchSize) batches.push(texts.slice(b, b + options.batchSize));
  const estimateFor = (model: ModelSpec): ModelEstimate => {
    const choice = { model, inference: resolveInference(prompt, model) };
    const perCall = Math.max(1, Math.min(options.chunkSize, textsPerCall(prompt, choice)));
    const perText = answerTokensPerText(prompt.taxonomy, model.tokenizer, model.outputFormat);
    let calls = 0;
    let largest = 0;
    let inputTokens = 0;
    let reserved = 0;
    let fits = true;
    for (const batch of batches) {
      for (const part of planChunks(batch, perCall, prompt, choice)) {
        const plan = planCall(part.map((t) => t.text), prompt, choice);
        calls += 1;
        largest = Math.max(largest, part.length);
        inputTokens += plan.reserve.inputTokens + plan.reserve.cacheTokens;
        reserved += reservedTokens(plan.reserve);
        fits &&= fitsContext(plan, model);
      }
    }
    const outputTokens = texts.length * perText;
    const n = Math.max(1, texts.length);
    return {
      model,
      format: model.outputFormat,
      calls,
      textsPerCall: largest,
      systemPromptTokens: countTokens(forFormat(prompt, model.outputFormat).system, model.tokenizer),
      outputTokensPerText: perText,
      inputTokens,
      outputTokens,
      reservedTokens: reserved,
      quotaTokens: inputTokens + outputTokens * model.outputBurnDown,
      perText: { input: round1(inputTokens / n), output: round1(outputTokens / n), reserved: round1(reserved / n) },
      costUsd: costUsd(model, inputTokens, outputTokens),
      fits: fits && perText <= model.maxOutputTokens,
    };
  };
  return { texts: texts.length, batches: batches.length, models: (options.models ?? MODELS).map(estimateFor) };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** The estimate as a terminal table. */
export function formatEstimate(e: Estimate, taxonomy: string, version: string): string {
  const lines = [
    `${e.texts} texts in ${e.batches} batches; taxonomy ${taxonomy} ${version}`,
    "",
    "model            format  texts/call  calls  prompt  per text: in    out  reserved   quota tokens  cost USD  per 1,000 texts",
  ];
  for (const m of e.models) {
    lines.push(
      [
        m.model.alias.padEnd(16),
        m.format.padEnd(6),
        String(m.textsPerCall).padStart(10),
        String(m.calls).padStart(6),
        String(m.systemPromptTokens).padStart(7),
        m.perText.input.toFixed(1).padStart(15),
        m.perText.output.toFixed(1).padStart(6),
        m.perText.reserved.toFixed(1).padStart(9),
        String(m.quotaTokens).padStart(14),
        m.costUsd.toFixed(4).padStart(9),
        ((1000 * m.costUsd) / Math.max(1, e.texts)).toFixed(4).padStart(16),
      ].join(" ") + (m.fits ? "" : "   (does not fit the model's context or output cap)"),
    );
  }
  const dates = [...new Set(e.models.map((m) => m.model.price.asOf))].sort();
  // A provisioned student's tokens cost nothing; its hours do, whether it labels or not.
  for (const m of e.models.filter((x) => x.model.hourlyUsd !== undefined)) {
    const hourly = m.model.hourlyUsd!;
    lines.push(`${m.model.alias}: Provisioned Throughput, $${hourly.toFixed(2)} an hour ($${(hourly * 730).toFixed(2)} a month of 730 hours) while deployed, on top of the cost above`);
  }
  lines.push(
    "",
    "Per text: input tokens (the system prompt shared by the call, the text and its framing), output tokens budgeted, and what Bedrock",
    "reserves against tokens per minute while a call runs (input + maxTokens). Quota tokens: input + output x the model's burn-down rate.",
    `Tokens: Llama 3's tokenizer; Claude and Nova approximated from it. List prices as of ${dates.join(", ") || "?"} (sources in the model catalogue);`,
    "one clean pass, no cache hits, no re-asks.",
  );
  return lines.join("\n");
}
