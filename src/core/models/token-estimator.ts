import llama3Tokenizer from "llama3-tokenizer-js";
import type { ModelSpec, TokenizerSpec } from "./model-catalogue.ts";

/**
 * One token count for everything that needs one: limiter reservations, `labelq estimate` and
 * prompt size checks. Llama models are counted with Llama 3's real tokenizer
 * (llama3-tokenizer-js: the vocabulary ships in the package, nothing is downloaded). Claude
 * and Nova have no tokenizer on npm (@anthropic-ai/tokenizer is Claude 2's), so their
 * catalogue entries say "approximate": Llama 3's count times a factor, rounded up, chosen to
 * err high so a reservation is not short. Characters / 4 under-counts JSON by ~40 %.
 */
export function countTokens(text: string, tokenizer: TokenizerSpec): number {
  const llama3 = countLlama3(text);
  return tokenizer.kind === "llama3" ? llama3 : Math.ceil(llama3 * tokenizer.factor);
}

/** Input tokens of one call as the model counts them: the system prompt and the user turn. */
export function promptTokens(model: Pick<ModelSpec, "tokenizer">, prompt: { system: string; user: string }): number {
  return countTokens(prompt.system, model.tokenizer) + countTokens(prompt.user, model.tokenizer);
}

/**
 * Long texts repeat (the system prompt of a taxonomy goes with every call), and counting 8k
 * tokens takes tens of milliseconds, so recent long counts are remembered.
 */
const MEMO_MIN_CHARS = 2_000;
const MEMO_SIZE = 32;
const memo = new Map<string, number>();

function countLlama3(text: string): number {
  if (text.length === 0) return 0;
  if (text.length < MEMO_MIN_CHARS) return llama3Tokenizer.encode(text, { bos: false, eos: false }).length;
  const known = memo.get(text);
  if (known !== undefined) {
    // Refresh its place so the most recently used prompts stay.
    memo.delete(text);
    memo.set(text, known);
    return known;
  }
  const n = llama3Tokenizer.encode(text, { bos: false, eos: false }).length;
  memo.set(text, n);
  if (memo.size > MEMO_SIZE) memo.delete(memo.keys().next().value!);
  return n;
}
