import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { batchRecordResponse } from "../../adapters/bedrock/bedrock-provider.ts";
import { jobIdOf } from "../../adapters/bedrock/job-control.ts";
import type { ObjectStore } from "../../adapters/s3/object-store.ts";
import type { JobRecord } from "../../core/bulk/bulk-store.ts";
import { StoreError } from "../../core/errors/errors.ts";
import type { ModelResponse } from "../../core/models/model-provider.ts";
import type { BulkContext } from "./bulk-context.ts";
import { recordKeyOf } from "./plan-records.ts";

/**
 * What a job's output says of one record:
 * - answer: the model's answer, read as a live answer is (then parsed, repaired and validated);
 * - error: Bedrock could not answer it (an `error` object in place of `modelOutput`), or the
 *   line was unreadable but named the record.
 */
export type RecordOutcome = { kind: "answer"; response: ModelResponse } | { kind: "error"; message: string };

export interface OutputRead {
  /** Outcomes by record key (recordKeyOf: batch, first text, chunk), the record ids mapped back through the job's record map. */
  records: Map<string, RecordOutcome>;
  /** Lines that are not JSON, or name no record of the job: their records count as missing. */
  malformedLines: number;
}

/** Record id -> record key (recordKeyOf), from a job's record map. */
export type RecordKeys = ReadonlyMap<string, string>;

/** An OutputRead with nothing read yet. */
export function emptyOutputRead(): OutputRead {
  return { records: new Map(), malformedLines: 0 };
}

/**
 * Read one line of an output file: `{recordId, modelInput, modelOutput}`, or with `error` in place
 * of `modelOutput` (docs: batch-inference-results). With `keys` (the job's record map) the record
 * id is mapped back to its record key, and a line whose id the map does not have names no record;
 * without (a job assembled before record ids were numbered) the id is the key. A record seen twice
 * keeps its answer over an error.
 */
export function readOutputLine(raw: string, into: OutputRead, keys?: RecordKeys): void {
  const line = raw.trim();
  if (line.length === 0) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    into.malformedLines += 1;
    return;
  }
  const record = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  const recordId = record?.recordId;
  const key = typeof recordId !== "string" || recordId.length === 0 ? undefined : keys ? keys.get(recordId) : recordId;
  if (!record || key === undefined) {
    into.malformedLines += 1;
    return;
  }
  const outcome = outcomeOf(record);
  const seen = into.records.get(key);
  if (!seen || (seen.kind === "error" && outcome.kind === "answer")) into.records.set(key, outcome);
}

/**
 * Read one output file held whole as text (lines in any order, docs: batch-inference-results).
 * Pure. A job's output is read with readJobOutput, a line at a time; this is for text already in
 * memory.
 */
export function readOutputFile(text: string, into: OutputRead = emptyOutputRead(), keys?: RecordKeys): OutputRead {
  for (const raw of text.split("\n")) readOutputLine(raw, into, keys);
  return into;
}

/** Read output lines as they arrive (see readOutputLine): memory holds one line at a time, and the outcomes. */
export async function readOutputLines(lines: AsyncIterable<string>, into: OutputRead = emptyOutputRead(), keys?: RecordKeys): Promise<OutputRead> {
  for await (const line of lines) readOutputLine(line, into, keys);
  return into;
}

/**
 * The lines of a stream of UTF-8 JSONL, read as the stream delivers them (node:readline): the
 * whole object is never in memory, only the line being read. A stream that fails mid-way (a
 * connection reset) is a StoreError, retryable: the next pass reads the object again.
 */
export async function* linesOf(stream: Readable, what: string): AsyncGenerator<string> {
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) yield line;
  } catch (cause) {
    throw new StoreError(`Could not read ${what}: ${(cause as Error).message}`, { cause });
  } finally {
    lines.close();
    stream.destroy();
  }
}

/**
 * A job's record map (record id -> record key), read a line at a time from its gzipped JSONL
 * (jsonl-files.ts, recordMapLine); undefined when the object is not there.
 */
export async function readRecordMap(objects: Pick<ObjectStore, "stream">, key: string): Promise<Map<string, string> | undefined> {
  const body = await objects.stream(key);
  if (!body) return undefined;
  const gunzip = createGunzip();
  body.once("error", (error) => gunzip.destroy(error));
  const keys = new Map<string, string>();
  try {
    for await (const line of linesOf(body.pipe(gunzip), key)) {
      if (line.length === 0) continue;
      const [recordId, batchId, chunk, textIds] = JSON.parse(line) as [string, string, number, string[]];
      keys.set(recordId, recordKeyOf(batchId, textIds[0] ?? "", chunk));
    }
  } finally {
    body.destroy();
  }
  return keys;
}

/**
 * Every output file of a job (`<output>/<jobId>/*.jsonl.out`, any order, any number), read a line
 * at a time, each record id mapped back to its record key through the job's record map; the
 * manifest's counts go to the debug log. A job whose record map is gone (deleted from the bucket)
 * has every line naming no record: its texts are re-asked live.
 */
export async function readJobOutput(ctx: Pick<BulkContext, "objects" | "logger">, job: JobRecord): Promise<OutputRead> {
  const read = emptyOutputRead();
  if (!job.jobArn) return read;
  let keys: RecordKeys | undefined;
  if (job.recordMap) {
    keys = await readRecordMap(ctx.objects, job.recordMap);
    if (!keys) {
      ctx.logger.error({ jobKey: job.jobKey, recordMap: job.recordMap }, "the bulk job's record map is missing: its output cannot be matched to its records, which are re-asked live");
      keys = new Map();
    }
  }
  const prefix = `${job.outputPrefix}${jobIdOf(job.jobArn)}/`;
  for (const key of await ctx.objects.list(prefix)) {
    if (key.endsWith("manifest.json.out")) {
      ctx.logger.debug({ jobKey: job.jobKey, manifest: readManifest(await ctx.objects.get(key)) }, "bulk job manifest");
    } else if (key.endsWith(".out")) {
      const body = await ctx.objects.stream(key);
      if (body) await readOutputLines(linesOf(body, key), read, keys);
    }
  }
  return read;
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

/** Read `manifest.json.out`'s counts. */
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
