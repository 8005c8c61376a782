import { batchRecordResponse } from "../../adapters/bedrock/bedrock-provider.ts";
import type { ModelResponse } from "../../core/models/model-provider.ts";

/**
 * What a job's output says of one record:
 * - answer: the model's answer, read as a live answer is (then parsed, repaired and validated);
 * - error: Bedrock could not answer it (an `error` object in place of `modelOutput`), or the
 *   line was unreadable but named the record.
 */
export type RecordOutcome = { kind: "answer"; response: ModelResponse } | { kind: "error"; message: string };

export interface OutputRead {
  records: Map<string, RecordOutcome>;
  /** Lines that are not JSON, or name no record: their records count as missing. */
  malformedLines: number;
}

/**
 * Read one output file (`<input>.jsonl.out`): one JSON line per record, in any order
 * (docs: batch-inference-results), `{recordId, modelInput, modelOutput}` or with `error` in
 * place of `modelOutput`. Pure. A record seen twice keeps its answer over an error.
 */
export function readOutputFile(text: string, into: OutputRead = { records: new Map(), malformedLines: 0 }): OutputRead {
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.length === 0) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      into.malformedLines += 1;
      continue;
    }
    const record = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
    const recordId = record?.recordId;
    if (!record || typeof recordId !== "string" || recordId.length === 0) {
      into.malformedLines += 1;
      continue;
    }
    const outcome = outcomeOf(record);
    const seen = into.records.get(recordId);
    if (!seen || (seen.kind === "error" && outcome.kind === "answer")) into.records.set(recordId, outcome);
  }
  return into;
}

function outcomeOf(record: Record<string, unknown>): RecordOutcome {
  const output = record.modelOutput;
  if (typeof output === "object" && output !== null && !Array.isArray(output)) return { kind: "answer", response: batchRecordResponse(output) };
  const error = record.error;
  if (typeof error === "object" && error !== null) {
    const e = error as { errorCode?: unknown; errorMessage?: unknown };
    const code = typeof e.errorCode === "number" || typeof e.errorCode === "string" ? e.errorCode : "?";
    const text = typeof e.errorMessage === "string" ? e.errorMessage : "no message";
    return { kind: "error", message: `batch inference error ${code}: ${text}` };
  }
  return { kind: "error", message: "the output line has neither modelOutput nor error" };
}

/** The counts of `manifest.json.out` (docs: batch-inference-results); undefined when absent or unreadable. */
export interface JobManifest {
  totalRecordCount?: number;
  processedRecordCount?: number;
  successRecordCount?: number;
  errorRecordCount?: number;
  inputTokenCount?: number;
  outputTokenCount?: number;
}

export function readManifest(text: string | undefined): JobManifest | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const counts: JobManifest = {};
    for (const key of ["totalRecordCount", "processedRecordCount", "successRecordCount", "errorRecordCount", "inputTokenCount", "outputTokenCount"] as const) {
      if (typeof parsed[key] === "number") counts[key] = parsed[key];
    }
    return counts;
  } catch {
    return undefined;
  }
}
