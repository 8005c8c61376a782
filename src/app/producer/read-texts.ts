import { parse as parseCsv } from "csv-parse/sync";
import fs from "node:fs/promises";
import path from "node:path";
import { InvalidRequestError } from "../../core/errors/errors.ts";

export interface InputText {
  id: string;
  text: string;
  metadata?: Record<string, unknown>;
}

/**
 * Read texts from a JSONL file (objects with `text` and optional `id`, `metadata`) or a CSV file
 * with a header row (`text` column required, `id` optional). Missing ids become `<file>-<n>`, the
 * id every later message uses for the record. An empty text is read as it is (see screenTexts).
 * A missing or unreadable file, one without a single record, or a record without a `text` field is
 * an InvalidRequestError.
 */
export async function readTexts(file: string): Promise<InputText[]> {
  let raw: string;
  try {
    raw = await fs.readFile(file, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "a directory, not a file" : code === "EACCES" ? "permission denied" : (error as Error).message;
    throw new InvalidRequestError(`${file}: ${why}`);
  }
  const stem = path.basename(file).replace(/\.[^.]+$/, "").replace(/[^A-Za-z0-9._-]/g, "-");
  const rows = file.toLowerCase().endsWith(".csv") ? readCsv(raw, file) : readJsonl(raw, file);
  if (rows.length === 0) throw new InvalidRequestError(`${file}: no texts in it (expected ${file.toLowerCase().endsWith(".csv") ? "a header row with a text column and one row per text" : "one JSON object with a \"text\" per line"})`);
  return rows.map((row, n) => {
    const id = typeof row.id === "string" && row.id !== "" ? row.id : typeof row.id === "number" ? String(row.id) : `${stem}-${n + 1}`;
    // An empty or blank text is the record's own problem (screenTexts reports it by id); a
    // record with no text at all is a file that does not say what to label.
    if (typeof row.text !== "string") {
      throw new InvalidRequestError(`${file}: record ${id} has no "text" field${row.text === undefined ? "" : ` (it is ${row.text === null ? "null" : typeof row.text}, not a string)`}`);
    }
    const metadata = typeof row.metadata === "object" && row.metadata !== null ? (row.metadata as Record<string, unknown>) : undefined;
    return { id, text: row.text, ...(metadata ? { metadata } : {}) };
  });
}

function readJsonl(raw: string, file: string): Record<string, unknown>[] {
  return raw.split(/\r?\n/).flatMap((line, n): Record<string, unknown>[] => {
    if (line.trim() === "") return [];
    try {
      const value: unknown = JSON.parse(line);
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not an object");
      return [value as Record<string, unknown>];
    } catch (error) {
      throw new InvalidRequestError(`${file}:${n + 1}: not a JSON object (${(error as Error).message})`);
    }
  });
}

function readCsv(raw: string, file: string): Record<string, unknown>[] {
  let header: string[] = [];
  let rows: Record<string, unknown>[];
  try {
    rows = parseCsv<Record<string, unknown>>(raw, {
      // Keep the header row to name the columns found when `text` is not among them.
      columns: (names: string[]) => (header = names),
      skip_empty_lines: true,
      bom: true,
      trim: false,
    });
  } catch (error) {
    throw new InvalidRequestError(`${file}: not valid CSV (${(error as Error).message})`);
  }
  if (header.length > 0 && !header.includes("text")) {
    throw new InvalidRequestError(`${file}: no "text" column in the header row (columns found: ${header.map((h) => JSON.stringify(h)).join(", ")})`);
  }
  return rows;
}
