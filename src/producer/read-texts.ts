import { parse as parseCsv } from "csv-parse/sync";
import fs from "node:fs/promises";
import path from "node:path";
import { InvalidRequestError } from "../errors/errors.ts";

export interface InputText {
  id: string;
  text: string;
  metadata?: Record<string, unknown>;
}

/**
 * Read texts from a JSONL file (objects with `text` and optional `id`, `metadata`) or a CSV file
 * with a header row (`text` column required, `id` optional). Missing ids become `<file>-<n>`.
 */
export async function readTexts(file: string): Promise<InputText[]> {
  const raw = await fs.readFile(file, "utf8");
  const stem = path.basename(file).replace(/\.[^.]+$/, "").replace(/[^A-Za-z0-9._-]/g, "-");
  const rows = file.toLowerCase().endsWith(".csv") ? readCsv(raw, file) : readJsonl(raw, file);
  return rows.map((row, n) => {
    if (typeof row.text !== "string" || row.text.trim().length === 0) {
      throw new InvalidRequestError(`${file}: record ${n + 1} has no "text"`);
    }
    const id = typeof row.id === "string" && row.id !== "" ? row.id : typeof row.id === "number" ? String(row.id) : `${stem}-${n + 1}`;
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
  try {
    return parseCsv<Record<string, unknown>>(raw, { columns: true, skip_empty_lines: true, bom: true, trim: false });
  } catch (error) {
    throw new InvalidRequestError(`${file}: not valid CSV (${(error as Error).message})`);
  }
}
