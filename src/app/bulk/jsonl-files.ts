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
