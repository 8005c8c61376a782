import type { ModelSpec } from "../models/model-registry.ts";
import { countTokens } from "../models/token-estimator.ts";
import { lineField, LINES, type OutputFormat } from "../prompts/output-format.ts";
import type { Dimension, Taxonomy } from "../taxonomy/taxonomy-schema.ts";

/*
 * How many output tokens to ask for. Bedrock reserves a call's maxTokens against tokens per
 * minute when the call starts and gives back the unused part only when it ends, so maxTokens is
 * sized to the chunk: texts x tokens per answer x headroom, plus the answer's wrapper.
 *
 * JSON answers vary with the labels chosen, so they are budgeted at the longest answer a text can
 * get, plus 20 % (measured with the Llama 3 tokenizer on the 25-dimension product-feedback
 * taxonomy: the longest is 115 tokens, typical ones 108-112).
 *
 * A lines answer is one short code per field, so its length hardly varies: it is budgeted at its
 * typical length, every field at the mean cost of its values and a multi-choice field at half its
 * maximum, with no headroom. On product-feedback that is 38 tokens a text, against 32.2 on
 * average and 39 at most for the 161 gold texts' labels written as lines, and 49 for the longest
 * line possible. A chunk's answer is a sum of its texts' lines, so it also gets room for its
 * spread: three standard deviations of that sum (SPREAD_Z), about 58 tokens for 50 texts on
 * product-feedback. Without it about one 50-text chunk in 25 ran past maxTokens by a few tokens,
 * and its last text took a second call: a batch's latency doubled for one line. The texts per
 * call are still sized on the typical length, so the spread costs reservation, never a call.
 */
export const OUTPUT_HEADROOM: Readonly<Record<OutputFormat, number>> = { json: 1.2, lines: 1.0 };

/** The answer's wrapper (`{"r":[`, `]}`) and a little slack for leading whitespace. */
const WRAPPER_TOKENS = 16;

/**
 * Standard deviations of a chunk's answer length that maxTokens leaves room for: with independent
 * texts, about one chunk in 700 runs past it.
 */
export const SPREAD_Z = 3;

/** Output tokens budgeted per text answered in `format` under a taxonomy, as the model's tokenizer counts them. */
export function answerTokensPerText(taxonomy: Taxonomy, tokenizer: ModelSpec["tokenizer"], format: OutputFormat = "json"): number {
  return format === "lines" ? lineTokens(taxonomy, tokenizer).typical : longestJsonTokens(taxonomy, tokenizer);
}

/** What a call's maxTokens is made of: tokens per text (before the format's headroom) and tokens per call. */
export interface AnswerBudget {
  perText: number;
  /**
   * Added once per call: the answer's wrapper and leading words (16 tokens), and for lines room
   * for one line at its longest beyond the typical one, so that a re-ask of one long line fits.
   */
  perCall: number;
  /** Standard deviation of one text's answer, in tokens: 0 where perText is already the longest (JSON). */
  spread: number;
}

/** The output budget of an answer in `format` under a taxonomy, as the model's tokenizer counts it. */
export function answerBudget(taxonomy: Taxonomy, tokenizer: ModelSpec["tokenizer"], format: OutputFormat): AnswerBudget {
  if (format === "json") return { perText: longestJsonTokens(taxonomy, tokenizer), perCall: WRAPPER_TOKENS, spread: 0 };
  const { typical, longest, spread } = lineTokens(taxonomy, tokenizer);
  return { perText: typical, perCall: WRAPPER_TOKENS + Math.max(0, longest - typical), spread };
}

function longestJsonTokens(taxonomy: Taxonomy, tokenizer: ModelSpec["tokenizer"]): number {
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

// Per taxonomy and tokenizer: counting every value of every field takes a few milliseconds, and
// every planned call asks.
interface LineCost {
  typical: number;
  longest: number;
  spread: number;
}
const lineCosts = new WeakMap<Taxonomy, Map<string, LineCost>>();

/**
 * Tokens of a lines answer for one text: typical (a two-digit number, each field at the mean cost
 * of its values, the newline), longest (every field at its costliest value, multi-choice fields
 * at their maximum) and spread (the standard deviation, fields independent, each value equally
 * likely, a multi-choice field with any count of labels). Counted with the basis tokenizer and
 * scaled once, so an approximate tokenizer's rounding up is not applied to every one-token field.
 */
function lineTokens(taxonomy: Taxonomy, tokenizer: ModelSpec["tokenizer"]): LineCost {
  const key = JSON.stringify(tokenizer);
  const known = lineCosts.get(taxonomy)?.get(key);
  if (known !== undefined) return known;
  const basis = { kind: "llama3" } as const;
  const cost = (field: string) => countTokens(`${LINES.separator}${field}`, basis);
  const frame = countTokens("12", basis) + countTokens("\n", basis);
  let typical = frame;
  let longest = frame;
  let variance = 0;
  for (const d of taxonomy.dimensions) {
    const costs = fieldValues(d).map(cost);
    typical += mean(costs);
    const spreadCosts = d.kind === "multi" ? multiValuesByCount(d).map(cost) : costs;
    const m = mean(spreadCosts);
    variance += mean(spreadCosts.map((c) => (c - m) ** 2));
    if (d.kind === "multi") {
      // The costliest labels, maxItems of them, joined.
      const labels = d.labels.map((l) => countTokens(`${LINES.join}${l.code}`, basis)).sort((a, b) => b - a);
      longest += Math.max(cost(LINES.none), labels.slice(0, d.maxItems).reduce((a, b) => a + b, 0));
    } else {
      longest += Math.max(...costs);
    }
  }
  const factor = tokenizer.kind === "approximate" ? tokenizer.factor : 1;
  const tokens = { typical: Math.ceil(typical * factor), longest: Math.ceil(longest * factor), spread: Math.sqrt(variance) * factor };
  lineCosts.set(taxonomy, (lineCosts.get(taxonomy) ?? new Map<string, LineCost>()).set(key, tokens));
  return tokens;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

/** A multi-choice field's values with every count of labels it allows, each label at the head of a run once per count. */
function multiValuesByCount(d: Extract<Dimension, { kind: "multi" }>): string[] {
  const codes = d.labels.map((l) => l.code);
  const values: string[] = [];
  for (let count = d.minItems; count <= d.maxItems; count++) {
    if (count === 0) values.push(lineField(d, []));
    else values.push(...codes.map((_, k) => lineField(d, Array.from({ length: count }, (__, j) => codes[(k + j) % codes.length]))));
  }
  return values;
}

/** The values a field can take, written as lines fields; a multi-choice field at half its maximum count. */
function fieldValues(d: Dimension): string[] {
  const nullable = "nullable" in d && d.nullable ? [lineField(d, null)] : [];
  switch (d.kind) {
    case "single":
      return d.labels.map((l) => l.code);
    case "multi": {
      const count = Math.max(d.minItems, Math.ceil(d.maxItems / 2));
      if (count === 0) return [lineField(d, [])];
      // Each label once at the head of a run of `count` labels, so every code's cost counts.
      const codes = d.labels.map((l) => l.code);
      return codes.map((_, k) => lineField(d, Array.from({ length: count }, (__, j) => codes[(k + j) % codes.length])));
    }
    case "scale": {
      const values: string[] = [];
      for (let v = d.min; v <= d.max; v++) values.push(String(v));
      return [...values, ...nullable];
    }
    case "boolean":
      return [lineField(d, 1), lineField(d, 0), ...nullable];
  }
}

/** maxTokens for a call asking for `texts` answers in `format`: sized to the chunk with room for its spread, never above `cap`. */
export function maxTokensFor(texts: number, budget: AnswerBudget, cap: number, format: OutputFormat): number {
  return Math.min(cap, Math.ceil(texts * budget.perText * OUTPUT_HEADROOM[format] + SPREAD_Z * budget.spread * Math.sqrt(texts)) + budget.perCall);
}

/** The most texts whose answers (with headroom) fit an output cap of `cap` tokens; at least 1. */
export function textsPerCallCap(budget: AnswerBudget, cap: number, format: OutputFormat): number {
  return Math.max(1, Math.floor((cap - budget.perCall) / (budget.perText * OUTPUT_HEADROOM[format])));
}

/**
 * Split `n` texts into calls of at most `cap` texts, as evenly as possible: 50 texts under a cap
 * of 48 go as 25 + 25, not 48 + 2, so the calls end at about the same time and each keeps the
 * same margin under its output cap.
 */
export function evenChunkSizes(n: number, cap: number): number[] {
  if (n <= 0) return [];
  const calls = Math.ceil(n / Math.max(1, cap));
  const base = Math.floor(n / calls);
  return Array.from({ length: calls }, (_, k) => base + (k < n % calls ? 1 : 0));
}
