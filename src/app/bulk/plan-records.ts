import { planCall } from "../../core/classify/call-model.ts";
import { planChunks, sliceBySizes, textsPerCall } from "../../core/classify/classify-items.ts";
import type { ModelChoice } from "../../core/classify/model-choice.ts";
import type { RequestItem } from "../../core/contracts/request.ts";
import { batchRecordBody } from "../../adapters/bedrock/bedrock-provider.ts";
import type { ResolvedPrompt } from "../../core/prompts/prompt-registry.ts";

/** One batch inference record: one chunk of one batch, asked exactly as a live call would ask it. */
export interface PlannedRecord {
  /** The id Bedrock sees: the record's number in its job (recordIdAt). */
  recordId: string;
  /** Where its outcome is looked up once the output is read (recordKeyOf). */
  key: string;
  /** Index of the chunk in its batch. */
  chunk: number;
  items: readonly RequestItem[];
  /** The record's line in the input JSONL: {recordId, modelInput}. */
  line: string;
  /** Size of the line in the file: UTF-8 bytes, its newline included. */
  bytes: number;
}

/**
 * Length of a record id. AWS documents `recordId` as an "alphanumeric string" (docs:
 * batch-inference-data; earlier versions of the page: "11 character alphanumeric string", and
 * every example id there and on batch-inference-results has 11 characters): a fixed 11 keeps to
 * the strictest reading, and makes a record's line as long whatever its number.
 */
export const RECORD_ID_LENGTH = 11;
const RECORD_ID_BASE = 36;
const MAX_RECORDS = Math.min(Number.MAX_SAFE_INTEGER, RECORD_ID_BASE ** RECORD_ID_LENGTH - 1);

/**
 * The record id of the n-th record (0-based) of a job: n in base 36, upper case, zero-padded to
 * 11 characters ("0000000000A" is the 11th). Unique within the job by construction; what each id
 * stands for is the job's record map (see recordMapLine), written with its input.
 */
export function recordIdAt(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_RECORDS) throw new RangeError(`record number ${n} is outside 0..${MAX_RECORDS}`);
  return n.toString(RECORD_ID_BASE).toUpperCase().padStart(RECORD_ID_LENGTH, "0");
}

/**
 * The key of a batch's chunk when output is read: batch id, the chunk's first text id and the chunk
 * number, joined by "#" (a character neither id may contain, src/core/contracts/request.ts). Output
 * lines come back in any order (docs: batch-inference-data); the reader maps each record id back to
 * this key through the job's record map, never by position. Jobs assembled before record ids were
 * numbered used this key as their record id, so their output reads the same way without a map.
 */
export function recordKeyOf(batchId: string, firstItemId: string, chunk: number): string {
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
 * The records of one batch, numbered from `firstRecord` in their job: each chunk's request built
 * by planCall (the exact request labelled live, maxTokens sized to the chunk) and written as a
 * Converse body (batchRecordBody). Every record id has the same length, so a line's size does not
 * depend on its number: sizes planned with any firstRecord are the sizes written.
 */
export function planBatchRecords(
  batchId: string,
  items: readonly RequestItem[],
  sizes: readonly number[],
  prompt: ResolvedPrompt,
  choice: ModelChoice,
  firstRecord = 0,
): PlannedRecord[] {
  return sliceBySizes(items, sizes).map((part, chunk) => {
    const recordId = recordIdAt(firstRecord + chunk);
    const { request } = planCall(part.map((it) => it.text), prompt, choice);
    const line = JSON.stringify({ recordId, modelInput: batchRecordBody(request) });
    // Bytes, not characters: the quotas are in bytes, and a Japanese text takes three per character.
    return { recordId, key: recordKeyOf(batchId, part[0]?.id ?? "", chunk), chunk, items: part, line, bytes: Buffer.byteLength(line, "utf8") + 1 };
  });
}

/** UTF-8 bytes of a batch's records in the input files (see planBatchRecords). */
export function recordsBytes(records: readonly Pick<PlannedRecord, "bytes">[]): number {
  return records.reduce((n, r) => n + r.bytes, 0);
}
