import llama3Tokenizer from "llama3-tokenizer-js";
import type { TokenizerKind } from "./bedrock-models.ts";

/**
 * Token counts as the model family's tokenizer gives them. Llama 3.x: the Llama 3 tokenizer
 * itself (llama3-tokenizer-js, vocabulary inside the package). Claude, Nova and Llama 4 have
 * tokenizers that are not published for Node; the Llama 3 tokenizer stands in for them, an
 * approximation that is far closer than characters / 4 for JSON (which under-counts by ~40 %).
 * "chars" is the lenient rule: ceil(characters / 4).
 */
export type TokenCounting = TokenizerKind | "chars";

// The same system prompt is counted on every call: remember a few long texts.
const MEMO_LIMIT = 64;
const MEMO_MIN_CHARS = 2048;
const memo = new Map<string, number[]>();

function encode(text: string): number[] {
  const remembered = memo.get(text);
  if (remembered !== undefined) return remembered;
  const ids = llama3Tokenizer.encode(text, { bos: false, eos: false });
  if (text.length >= MEMO_MIN_CHARS) {
    if (memo.size >= MEMO_LIMIT) memo.delete(memo.keys().next().value as string);
    memo.set(text, ids);
  }
  return ids;
}

/** Number of tokens in text. */
export function countTokens(text: string, counting: TokenCounting): number {
  if (text === "") return 0;
  if (counting === "chars") return Math.ceil(text.length / 4);
  return encode(text).length;
}

/** Tokens of several text blocks, each counted on its own as the model's prompt template keeps them apart. */
export function sumTokens(texts: readonly string[], counting: TokenCounting): number {
  return texts.reduce((n, text) => n + countTokens(text, counting), 0);
}

/** The longest prefix of text that fits in maxTokens tokens (what a model writes before it stops at maxTokens). */
export function truncateToTokens(text: string, maxTokens: number, counting: TokenCounting): string {
  if (counting === "chars") return text.slice(0, maxTokens * 4);
  const ids = encode(text);
  if (ids.length <= maxTokens) return text;
  return llama3Tokenizer.decode(ids.slice(0, maxTokens));
}
