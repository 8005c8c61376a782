import { planCall } from "../../core/classify/call-model.ts";
import { planChunks, sliceBySizes, textsPerCall } from "../../core/classify/classify-items.ts";
import type { ModelChoice } from "../../core/classify/model-choice.ts";
import type { RequestItem } from "../../core/contracts/request.ts";
import { batchRecordBody } from "../../adapters/bedrock/bedrock-provider.ts";
import type { ResolvedPrompt } from "../../core/prompts/prompt-registry.ts";

/** One batch inference record: one chunk of one batch, asked exactly as a live call would ask it. */
export interface PlannedRecord {
  recordId: string;
  /** Index of the chunk in its batch. */
  chunk: number;
  items: readonly RequestItem[];
  /** The record's line in the input JSONL: {recordId, modelInput}. */
  line: string;
}

/**
 * The record id of a batch's chunk: batch id, the chunk's first text id and the chunk number,
 * joined by "#" (a character neither id may contain, src/core/contracts/request.ts). Output lines come
 * back in any order (docs: batch-inference-data); they are matched by this id, never by position.
 */
export function recordIdOf(batchId: string, firstItemId: string, chunk: number): string {
  return `${batchId}#${firstItemId}#${chunk}`;
}

/**
 * How a batch's texts are cut into records: the same sizes the live path's first round uses (the
 * configured chunk size, capped by what the model's output cap can answer), each halved until its
 * call fits the model's context. Stored with the batch, so the output is read with the same cut.
 */
export function chunkSizesFor(items: readonly RequestItem[], prompt: ResolvedPrompt, choice: ModelChoice, chunkSize: number): number[] {
  const size = Math.max(1, Math.min(chunkSize, textsPerCall(prompt, choice)));
  return planChunks(items, size, prompt, choice).map((part) => part.length);
}

/**
 * The records of one batch: each chunk's request built by planCall (the exact request labelled
 * live, maxTokens sized to the chunk) and written as a Converse body (batchRecordBody).
 */
export function planBatchRecords(
  batchId: string,
  items: readonly RequestItem[],
  sizes: readonly number[],
  prompt: ResolvedPrompt,
  choice: ModelChoice,
): PlannedRecord[] {
  return sliceBySizes(items, sizes).map((part, chunk) => {
    const recordId = recordIdOf(batchId, part[0]?.id ?? "", chunk);
    const { request } = planCall(part.map((it) => it.text), prompt, choice);
    return { recordId, chunk, items: part, line: JSON.stringify({ recordId, modelInput: batchRecordBody(request) }) };
  });
}
