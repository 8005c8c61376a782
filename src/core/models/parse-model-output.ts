import { jsonrepair, JSONRepairError } from "jsonrepair";

/** Items recovered from one model answer, before per-item validation. */
export interface ParsedOutput {
  items: unknown[];
  /** Answers for a text number that could not be read into an object (a lines-format line with the wrong field count). */
  rejected?: { i: number; problem: string }[];
  /** Why nothing (or not everything) could be read; undefined when the answer parsed cleanly. */
  problem?: string;
}

/** How many bracket positions to try as the start of the JSON before giving up. */
const MAX_CANDIDATES = 20;

/**
 * Stop reasons after which the answer ends mid-way: the output cap (max_tokens) or the model's
 * context window (model_context_window_exceeded, one of Converse's StopReason values).
 */
const CUT_OFF_STOP_REASONS: Partial<Record<string, string>> = {
  max_tokens: "the answer was cut off at max_tokens",
  model_context_window_exceeded: "the answer was cut off at the model's context window",
};

/** True when an answer with this stop reason was cut off before its end. */
export function isCutOff(stopReason: string): boolean {
  return CUT_OFF_STOP_REASONS[stopReason] !== undefined;
}

/** Why an answer with this stop reason is incomplete, or undefined when it ended normally. */
export function cutOffReason(stopReason: string): string | undefined {
  return CUT_OFF_STOP_REASONS[stopReason];
}

/**
 * Read the model's answer into the list of per-text objects, repairing what can be repaired
 * (prose or code fences around the JSON, trailing commas, missing closing brackets).
 * Prose may itself contain brackets ("texts [1-2]"), so each opening bracket is tried in turn
 * and the first that yields a list of numbered objects wins.
 * When the model was cut off (max_tokens, context window) the last object may be cut short yet still repair into
 * something that validates (jsonrepair closes open strings silently), so it is dropped and
 * re-asked rather than trusted.
 */
export function parseModelOutput(text: string, stopReason: string): ParsedOutput {
  const cutOff = CUT_OFF_STOP_REASONS[stopReason];
  const truncated = cutOff !== undefined;
  const starts = [...text.matchAll(/[[{]/g)].map((m) => m.index).slice(0, MAX_CANDIDATES);
  if (starts.length === 0) return { items: [], problem: "no JSON in the answer" };
  const accept = (items: unknown[]): ParsedOutput =>
    cutOff !== undefined ? { items: items.slice(0, -1), problem: cutOff } : { items };

  // First the widest reading: from the first bracket to the last one (also reads JSON lines).
  const lastClose = Math.max(text.lastIndexOf("}"), text.lastIndexOf("]"));
  const widest = readItems(text.slice(starts[0], truncated ? text.length : lastClose + 1));
  if (widest.items?.some(isNumbered)) return accept(widest.items);

  // Then each balanced bracketed value in turn, skipping those inside a value already read.
  let firstProblem = widest.problem;
  let coveredUntil = -1;
  for (const start of starts) {
    if (start < coveredUntil) continue;
    const end = truncated ? undefined : matchingClose(text, start);
    const attempt = readItems(text.slice(start, end ?? text.length));
    if (attempt.items?.some(isNumbered)) return accept(attempt.items);
    if (attempt.parsed && end !== undefined) coveredUntil = end;
    firstProblem ??= attempt.problem;
  }
  return { items: [], problem: firstProblem ?? "the JSON has no list of items" };
}

function readItems(body: string): { items?: unknown[]; problem?: string; parsed?: boolean } {
  let value: unknown;
  try {
    value = JSON.parse(jsonrepair(body));
  } catch (error) {
    const why = error instanceof JSONRepairError || error instanceof SyntaxError ? error.message : String(error);
    return { problem: `unreadable JSON: ${why}` };
  }
  const items = findItems(value);
  return items ? { items, parsed: true } : { problem: "the JSON has no list of items", parsed: true };
}

/** Index just past the bracket that closes the one at `start`, skipping strings; undefined when unbalanced. */
function matchingClose(text: string, start: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let k = start; k < text.length; k++) {
    const c = text[k];
    if (inString) {
      if (c === "\\") k++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) return k + 1;
    }
  }
  return undefined;
}

function isNumbered(item: unknown): boolean {
  return typeof item === "object" && item !== null && "i" in item;
}

function findItems(value: unknown): unknown[] | undefined {
  if (Array.isArray(value)) return value as unknown[];
  if (typeof value !== "object" || value === null) return undefined;
  const obj = value as Record<string, unknown>;
  if (Array.isArray(obj.r)) return obj.r as unknown[];
  // A model may rename the wrapper key; take the only list it wrote.
  const lists = Object.values(obj).filter((v): v is unknown[] => Array.isArray(v));
  return lists.length === 1 ? lists[0] : undefined;
}
