import { gzipSync } from "node:zlib";

/** Limits on one job's input, from the Bedrock quotas (config LABELQ_BULK_*). */
export interface FileLimits {
  maxRecordsPerFile: number;
  maxFileBytes: number;
}

/**
 * Pack JSONL lines into input files: each file at most `maxRecordsPerFile` lines and
 * `maxFileBytes` bytes (UTF-8, newline included). Order is kept. A single line larger than a file
 * may hold gets a file of its own (Bedrock then fails that record, and it is re-asked live).
 */
export function packFiles(lines: readonly string[], limits: FileLimits): string[][] {
  const files: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const line of lines) {
    const size = Buffer.byteLength(line, "utf8") + 1;
    if (current.length > 0 && (current.length >= limits.maxRecordsPerFile || bytes + size > limits.maxFileBytes)) {
      files.push(current);
      current = [];
      bytes = 0;
    }
    current.push(line);
    bytes += size;
  }
  if (current.length > 0) files.push(current);
  return files;
}

/** The JSONL text of one file. */
export function jsonl(lines: readonly string[]): string {
  return lines.map((l) => `${l}\n`).join("");
}

/** The name of input file number `n` (1-based); Bedrock writes its output as `<name>.out`. */
export function inputFileName(n: number): string {
  return `records-${String(n).padStart(4, "0")}.jsonl`;
}

/**
 * Where one assembly of a job writes its input files: a folder of its own under the job's input
 * prefix, submitted as the job's input. Two workers finishing the same assembly (a resumed one and
 * the one thought dead) each write their own files and record map; the one whose job update wins
 * is the job's, so a record map never describes another assembly's files.
 */
export function assemblyInputPrefix(inputPrefix: string, assembly: string): string {
  return `${inputPrefix}${assembly}/`;
}

/**
 * Where an assembly's record map goes: next to its input folder, not in it (Bedrock reads every
 * .jsonl under the input prefix; this is neither in it nor .jsonl).
 */
export function recordMapKey(inputPrefix: string, assembly: string): string {
  return `${inputPrefix}${assembly}.record-map.jsonl.gz`;
}

/** What a record id stands for: its batch, the chunk's number in the batch, and the ids of the chunk's texts. */
export interface RecordMapEntry {
  recordId: string;
  batchId: string;
  chunk: number;
  textIds: readonly string[];
}

/** One line of a record map: `["<recordId>","<batchId>",<chunk>,["<text id>",...]]`. */
export function recordMapLine(entry: RecordMapEntry): string {
  return JSON.stringify([entry.recordId, entry.batchId, entry.chunk, entry.textIds]);
}

/**
 * A job's record map as stored: JSONL, gzipped. It is an S3 object next to the input rather than a
 * field of the job record because it grows with the job (a 50,000-record job of 50-text chunks
 * lists 2.5 million text ids, megabytes even gzipped) and a DynamoDB item is at most 400 KB.
 */
export function recordMapBody(lines: readonly string[]): Uint8Array {
  return gzipSync(jsonl(lines));
}
