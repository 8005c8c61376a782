import fs from "node:fs/promises";
import path from "node:path";
import type { z } from "zod";
import { InvalidRequestError } from "../../core/errors/errors.ts";

/** A JSON file's parsed contents, or undefined when there is no such file (any other read error is thrown). */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return JSON.parse(text) as unknown;
}

/**
 * Write `value` as JSON through a temporary file and a rename: a crash, or a reader at the same
 * moment, sees the old contents or the new, never half of them. `mode` 0o600 for records that
 * name jobs and tokens.
 */
export async function writeJsonFile(file: string, value: unknown, mode?: number): Promise<void> {
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(value, null, 2) + "\n", mode === undefined ? {} : { mode });
  await fs.rename(tmp, file);
}

/** A state file `schema` describes, or undefined when there is none; anything else there is an error naming `what` it should be. */
export async function readStateFile<T>(file: string, schema: z.ZodType<T>, what: string): Promise<T | undefined> {
  const value = await readJsonFile(file);
  if (value === undefined) return undefined;
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InvalidRequestError(`${file} is not ${what}: ${parsed.error.message}`);
  return parsed.data;
}

/** Write a state file (it names jobs and tokens: readable by its owner only), atomically. */
export function writeStateFile(file: string, state: unknown): Promise<void> {
  return writeJsonFile(file, state, 0o600);
}
