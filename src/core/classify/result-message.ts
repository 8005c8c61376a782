import type { LabelRequest } from "../contracts/request.ts";
import type { ItemErrorCode, LabelResult, ResultItem } from "../contracts/result.ts";
import { type Usage, usagePerText } from "./usage.ts";

/** What a result message is built from: the batch, how it was labelled, its items and what they cost. */
export interface ResultMessageInput {
  request: Pick<LabelRequest, "batchId" | "attributes">;
  /** The taxonomy name as the request resolved it (request.taxonomy or the default). */
  taxonomy: string;
  promptVersion: string;
  promptHash: string;
  /** The model alias the batch asked for (or the default). */
  model: string;
  /** One per request item, in request order. */
  items: ResultItem[];
  usage: Usage;
  /** Texts answered wholly from the label cache. */
  cacheHits: number;
  /** Texts whose tokens `usage` holds: the divisor of the per-text figures. */
  sentToModel: number;
  receivedAt: Date;
  completedAt: Date;
}

/**
 * The result message (schemas/result.v1.json): the one writer of the wire contract, for the
 * live path, the routed (canary, shadow) path and the bulk path. Status, per-text usage and
 * timing are derived here; usage fields are written in the schema's order.
 */
export function resultMessage(input: ResultMessageInput): LabelResult {
  const { request, items, usage, receivedAt, completedAt } = input;
  return {
    schemaVersion: 1,
    batchId: request.batchId,
    status: batchStatus(items),
    taxonomy: input.taxonomy,
    promptVersion: input.promptVersion,
    promptHash: input.promptHash,
    model: input.model,
    items,
    usage: {
      modelCalls: usage.modelCalls,
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      cacheReadInputTokens: usage.cacheReadInputTokens,
      cacheWriteInputTokens: usage.cacheWriteInputTokens,
      reservedTokens: usage.reservedTokens,
      perText: usagePerText(usage, input.sentToModel),
      ...(usage.tiers ? { tiers: Object.fromEntries(Object.entries(usage.tiers).map(([t, u]) => [t, { modelCalls: u.modelCalls, costUsd: round6(u.costUsd) }])), tierFallbacks: usage.tierFallbacks ?? 0 } : {}),
      cacheHits: input.cacheHits,
      costUsd: round6(usage.costUsd),
    },
    timing: {
      receivedAt: receivedAt.toISOString(),
      completedAt: completedAt.toISOString(),
      durationMs: Math.max(0, completedAt.getTime() - receivedAt.getTime()),
    },
    attributes: request.attributes ?? {},
  };
}

/** completed: every item labelled; failed: none; partial: some. */
export function batchStatus(items: readonly ResultItem[]): LabelResult["status"] {
  const failed = items.filter((it) => it.error !== null).length;
  return failed === 0 ? "completed" : failed === items.length ? "failed" : "partial";
}

/** The result item of a text without labels. */
export function errorItem(id: string, code: ItemErrorCode, message: string): ResultItem {
  return { id, labels: null, source: null, model: null, error: { code, message } };
}

/** The result item of a text no answer mentioned. */
export function missingItem(id: string): ResultItem {
  return errorItem(id, "MISSING_FROM_OUTPUT", "no labels for this text");
}

/** Dollars to the micro-dollar, as results report them. */
function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
