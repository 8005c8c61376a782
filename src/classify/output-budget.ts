import type { ModelSpec } from "../llm/model-registry.ts";
import { countTokens } from "../llm/token-estimator.ts";
import type { Dimension, Taxonomy } from "../taxonomy/taxonomy-schema.ts";

/**
 * Output tokens asked for beyond the measured answer size: models add whitespace, a tool call
 * adds its own framing, and a chunk cut off costs a re-ask. Measured here with the Llama 3
 * tokenizer, the longest answer for one text of the 25-dimension product-feedback taxonomy is
 * 115 tokens and typical ones 108-112, so 20 % above the longest leaves room without reserving
 * much quota that is never used (Bedrock reserves maxTokens at the start of every call).
 */
export const OUTPUT_HEADROOM = 1.2;

/** The answer's wrapper (`{"r":[`, `]}`) and a little slack for leading whitespace. */
const WRAPPER_TOKENS = 16;

/** Output tokens of the longest answer one text can get under a taxonomy, as the model's tokenizer counts them. */
export function answerTokensPerText(taxonomy: Taxonomy, tokenizer: ModelSpec["tokenizer"]): number {
  const longest: Record<string, unknown> = { i: 999 };
  for (const d of taxonomy.dimensions) longest[d.code] = longestValue(d);
  // One separating comma per object.
  return countTokens(`${JSON.stringify(longest)},`, tokenizer);
}

function longestValue(d: Dimension): unknown {
  const byLength = (labels: readonly { code: string }[]) => labels.map((l) => l.code).sort((a, b) => b.length - a.length);
  switch (d.kind) {
    case "single":
      return byLength(d.labels)[0];
    case "multi":
      return byLength(d.labels).slice(0, d.maxItems);
    case "scale":
      return d.nullable ? null : d.max;
    case "boolean":
      return d.nullable ? null : 0;
  }
}

/** maxTokens for a call asking for `texts` answers of `perText` tokens: sized to the chunk, never above `cap`. */
export function maxTokensFor(texts: number, perText: number, cap: number): number {
  return Math.min(cap, Math.ceil(texts * perText * OUTPUT_HEADROOM) + WRAPPER_TOKENS);
}

/** The most texts whose answers (with headroom) fit an output cap of `cap` tokens; at least 1. */
export function textsPerCallCap(perText: number, cap: number): number {
  return Math.max(1, Math.floor((cap - WRAPPER_TOKENS) / (perText * OUTPUT_HEADROOM)));
}
