import fs from "node:fs/promises";
import { z } from "zod";
import { labelValueSchema, resultSchema } from "../../core/contracts/result.ts";
import { InvalidRequestError } from "../../core/errors/errors.ts";
import type { RunLabels } from "./score-run.ts";

const itemLine = z.object({ id: z.string().min(1), labels: z.record(z.string(), labelValueSchema).nullable() });

/**
 * Labels from a results JSONL file, to compare against: either result messages, one per line,
 * as `labelq collect` and `labelq eval --out` write them, or `{"id", "labels"}` lines.
 */
export async function readResultLabels(file: string): Promise<RunLabels> {
  let raw: string;
  try {
    raw = await fs.readFile(file, "utf8");
  } catch (cause) {
    throw new InvalidRequestError(`--against ${file}: cannot be read (${(cause as Error).message})`);
  }
  const labels = new Map<string, Record<string, z.infer<typeof labelValueSchema>> | null>();
  const problems: string[] = [];
  raw.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === "") return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      problems.push(`line ${index + 1}: not JSON`);
      return;
    }
    const result = resultSchema.safeParse(json);
    if (result.success) {
      for (const item of result.data.items) labels.set(item.id, item.labels);
      return;
    }
    const item = itemLine.safeParse(json);
    if (item.success) labels.set(item.data.id, item.data.labels);
    else problems.push(`line ${index + 1}: neither a result message nor an {"id","labels"} line`);
  });
  if (problems.length > 0) throw new InvalidRequestError(`--against ${file}: ${problems.slice(0, 10).join("; ")}`, problems);
  return labels;
}
