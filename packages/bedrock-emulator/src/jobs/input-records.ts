import type { JobQuotas } from "./job-settings.ts";

/**
 * Reading a job's JSONL input while it is Validating: the checks the service names for that
 * status (docs: ModelInvocationJobStatus; batch-inference-data): .jsonl files, each line a JSON
 * object with a modelInput object and, if it has one, a recordId of at most 11 alphanumeric
 * characters, and the file-size and record-count quotas. The service "doesn't check if the
 * modelInput value matches the request body for the model": that shows up per record in the
 * output. The failure messages are the emulator's wording (the service's were not found quoted).
 */

/** An input object as listed: its key and size, before it is read. */
export interface InputObject {
  key: string;
  size: number;
}

export interface InputRecord {
  recordId: string;
  modelInput: Record<string, unknown>;
}

export interface InputFile {
  /** The file name (last key segment): the output is <name>.out. */
  name: string;
  records: InputRecord[];
}

export type InputCheck = { ok: true; files: InputFile[]; totalRecords: number } | { ok: false; message: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export function fileName(key: string): string {
  return key.slice(key.lastIndexOf("/") + 1);
}

/**
 * The .jsonl objects a job reads: the one object its s3Uri names, or every .jsonl object under
 * its prefix (nested folders included; other objects ignored). A failure message when there is
 * none, when a named object is not .jsonl, or when a size quota is exceeded.
 */
export function selectInputObjects(listed: readonly InputObject[], key: string, quotas: JobQuotas): { objects: InputObject[] } | { message: string } {
  const exact = listed.find((o) => o.key === key);
  let objects: InputObject[];
  if (exact !== undefined && key !== "" && !key.endsWith("/")) {
    if (!key.endsWith(".jsonl")) return { message: `The input file ${key} is not a .jsonl file. Input files must have the .jsonl extension.` };
    objects = [exact];
  } else {
    const prefix = key === "" || key.endsWith("/") ? key : `${key}/`;
    objects = listed.filter((o) => o.key.startsWith(prefix) && o.key.endsWith(".jsonl"));
  }
  if (objects.length === 0) return { message: `No .jsonl input files found at the input location (key or prefix "${key}").` };
  for (const o of objects) {
    if (o.size > quotas.maxFileBytes) {
      return { message: `The input file ${o.key} is ${o.size} bytes, above the quota of ${quotas.maxFileBytes} bytes per batch inference input file.` };
    }
  }
  const total = objects.reduce((n, o) => n + o.size, 0);
  if (total > quotas.maxJobBytes) return { message: `The job's input files total ${total} bytes, above the quota of ${quotas.maxJobBytes} bytes per batch inference job.` };
  return { objects };
}

const ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/**
 * A recordId as the service documents it: an "alphanumeric string" (docs: batch-inference-data;
 * earlier versions of the page: "11 character alphanumeric string", the examples there and on
 * batch-inference-results have 11). Read here as 1 to 11 of [A-Za-z0-9], the strictest reading
 * that the documented examples pass; what the service does with another id is not documented, so
 * the emulator fails the job at validation as it does for other invalid input.
 */
export const RECORD_ID_PATTERN = /^[A-Za-z0-9]{1,11}$/;

/** An 11-character alphanumeric record id, as Bedrock adds to a record that has none. */
function generatedRecordId(random: () => number): string {
  let id = "";
  for (let k = 0; k < 11; k++) id += ID_CHARS[Math.floor(random() * ID_CHARS.length)];
  return id;
}

/** Parses and checks the job's input files (already read); the first problem fails the whole job. */
export function parseInputFiles(files: readonly { key: string; text: string }[], quotas: JobQuotas, random: () => number): InputCheck {
  const parsed: InputFile[] = [];
  let total = 0;
  for (const { key, text } of files) {
    const records: InputRecord[] = [];
    const lines = text.split("\n");
    for (const [n, rawLine] of lines.entries()) {
      const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
      if (line.trim() === "") continue;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch {
        return { ok: false, message: `Line ${n + 1} of the input file ${key} is not valid JSON. Each line must be a JSON object with a recordId and a modelInput.` };
      }
      if (!isObject(json) || !isObject(json.modelInput)) {
        return { ok: false, message: `Line ${n + 1} of the input file ${key} has no modelInput object. Each line must be a JSON object with a recordId and a modelInput.` };
      }
      if (json.recordId !== undefined && typeof json.recordId !== "string") {
        return { ok: false, message: `Line ${n + 1} of the input file ${key} has a recordId that is not a string.` };
      }
      if (typeof json.recordId === "string" && !RECORD_ID_PATTERN.test(json.recordId)) {
        const shown = json.recordId.length > 40 ? `${json.recordId.slice(0, 40)}...` : json.recordId;
        return { ok: false, message: `Line ${n + 1} of the input file ${key} has the recordId "${shown}": a recordId must be an alphanumeric string of at most 11 characters.` };
      }
      // docs: batch-inference-data, "If you omit the recordId field, Amazon Bedrock adds it in the output."
      records.push({ recordId: json.recordId ?? generatedRecordId(random), modelInput: json.modelInput });
    }
    if (records.length > quotas.maxRecordsPerFile) {
      return { ok: false, message: `The input file ${key} has ${records.length} records, above the quota of ${quotas.maxRecordsPerFile} records per input file per batch inference job.` };
    }
    total += records.length;
    parsed.push({ name: fileName(key), records });
  }
  if (total < quotas.minRecordsPerJob) {
    return { ok: false, message: `The job has ${total} records, below the minimum of ${quotas.minRecordsPerJob} records per batch inference job for this model.` };
  }
  return { ok: true, files: parsed, totalRecords: total };
}
