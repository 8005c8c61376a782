import { randomBytes } from "node:crypto";
import { classify, type LabelItem } from "./classifier.ts";
import { applyLabelErrors, type LabelErrorOptions } from "./label-errors.ts";
import type { ConverseInput } from "./converse-request.ts";
import { addItems, corruptItems, dropItems } from "./item-faults.ts";
import { addExtraSeparators, breakALine, dropAField, itemLine, parseLinesFormat } from "./lines-format.ts";
import { parseInputTexts, parseOutputFormat } from "./prompt-format.ts";
import { addTrailingCommas, cutAtSixtyPercent, dropFinalBrackets, wrapInCodeFence, wrapInProse } from "./text-faults.ts";
import { countTokens, truncateToTokens, type TokenCounting } from "./tokens.ts";
import type { OutputFaultKind } from "./types.ts";

export type StopReason = "end_turn" | "max_tokens" | "tool_use";

export type ContentBlock = { text: string } | { toolUse: { toolUseId: string; name: string; input: unknown } };

/** What the simulated model answers, before latency and quota. */
export interface Answer {
  content: ContentBlock;
  stopReason: StopReason;
  outputTokens: number;
  /** Output faults that changed this answer. */
  applied: OutputFaultKind[];
}

// What a model says when the prompt is not a labelling request: the caller cannot parse
// it, which is what would happen with a real model.
const NO_TASK_REPLY =
  "I'm sorry, but I couldn't find any texts to label or an output format in your message. " +
  "Please send the texts, one per line, and describe the output format you need.";

interface Context {
  faults: ReadonlySet<OutputFaultKind>;
  applied: OutputFaultKind[];
  counting: TokenCounting;
}

function use(ctx: Context, kind: OutputFaultKind): boolean {
  if (!ctx.faults.has(kind)) return false;
  ctx.applied.push(kind);
  return true;
}

function textAnswer(text: string, truncated: boolean, maxTokens: number | undefined, ctx: Context): Answer {
  let stopReason: StopReason = truncated ? "max_tokens" : "end_turn";
  // A real model stops at maxTokens whatever it was writing.
  if (maxTokens !== undefined && countTokens(text, ctx.counting) > maxTokens) {
    text = truncateToTokens(text, maxTokens, ctx.counting);
    stopReason = "max_tokens";
  }
  return { content: { text }, stopReason, outputTokens: countTokens(text, ctx.counting), applied: ctx.applied };
}

function toolAnswer(name: string, items: LabelItem[], maxTokens: number | undefined, ctx: Context): Answer {
  let kept = items;
  let stopReason: StopReason = "tool_use";
  if (use(ctx, "empty")) {
    kept = [];
    stopReason = "max_tokens";
  } else if (use(ctx, "truncate")) {
    kept = items.slice(0, Math.floor(items.length * 0.6));
    stopReason = "max_tokens";
  }
  // A cut-off tool call keeps the items that were complete when the budget ran out.
  while (maxTokens !== undefined && kept.length > 0 && countTokens(JSON.stringify({ r: kept }), ctx.counting) > maxTokens) {
    kept = kept.slice(0, -1);
    stopReason = "max_tokens";
  }
  const input = ctx.applied.includes("empty") ? {} : { r: kept };
  const toolUseId = `tooluse_${randomBytes(16).toString("base64url").slice(0, 22)}`;
  return {
    content: { toolUse: { toolUseId, name, input } },
    stopReason,
    outputTokens: countTokens(JSON.stringify(input), ctx.counting),
    applied: ctx.applied,
  };
}

/** Builds the simulated model's answer to a Converse request, with the given output faults applied. */
export function buildAnswer(input: ConverseInput, seed: number, faults: OutputFaultKind[], random: () => number, counting: TokenCounting, labelErrors: LabelErrorOptions = {}): Answer {
  const ctx: Context = { faults: new Set(faults), applied: [], counting };
  const lineKeys = parseLinesFormat(input.systemText);
  const keys = lineKeys ?? parseOutputFormat(input.systemText);
  const texts = parseInputTexts(input.lastUserText);

  if (keys.length === 0 || texts.length === 0) {
    if (use(ctx, "empty")) return textAnswer("", false, input.maxTokens, ctx);
    const truncated = use(ctx, "truncate");
    return textAnswer(truncated ? cutAtSixtyPercent(NO_TASK_REPLY) : NO_TASK_REPLY, truncated, input.maxTokens, ctx);
  }

  let items = applyLabelErrors(classify(texts, keys, seed), texts, keys, labelErrors, seed);
  const fewer = ctx.faults.has("missing-ids") ? dropItems(items, random) : undefined;
  if (fewer !== undefined && use(ctx, "missing-ids")) items = fewer;
  if (use(ctx, "extra-ids")) items = addItems(items, texts.map((t) => t.i), keys, seed);
  const damaged = ctx.faults.has("invalid-labels") ? corruptItems(items, keys, random) : undefined;
  if (damaged !== undefined && use(ctx, "invalid-labels")) items = damaged;

  // Checked only when there is a tool, so on other calls the fault is not counted.
  if (input.toolName !== undefined && !use(ctx, "ignore-tool")) return toolAnswer(input.toolName, items, input.maxTokens, ctx);

  if (use(ctx, "empty")) return textAnswer("", false, input.maxTokens, ctx);
  let text: string;
  if (lineKeys !== undefined) {
    // Faults of the JSON text (trailing-comma, missing-bracket) have no counterpart here and stay pending.
    text = items.map((item) => itemLine(item, lineKeys)).join("\n");
    // A fault that cannot apply (lines too short) is not counted, as for the item faults.
    const shorter = ctx.faults.has("missing-field") ? dropAField(text, random) : undefined;
    if (shorter !== undefined && use(ctx, "missing-field")) text = shorter;
    const broken = ctx.faults.has("broken-line") ? breakALine(text, random) : undefined;
    if (broken !== undefined && use(ctx, "broken-line")) text = broken;
    if (use(ctx, "extra-separator")) text = addExtraSeparators(text);
  } else {
    text = JSON.stringify({ r: items });
    if (use(ctx, "trailing-comma")) text = addTrailingCommas(text);
    if (use(ctx, "missing-bracket")) text = dropFinalBrackets(text);
  }
  if (use(ctx, "code-fence")) text = wrapInCodeFence(text);
  if (use(ctx, "prose")) text = wrapInProse(text);
  const truncated = use(ctx, "truncate");
  if (truncated) text = cutAtSixtyPercent(text);
  return textAnswer(text, truncated, input.maxTokens, ctx);
}
