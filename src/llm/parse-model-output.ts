import { jsonrepair, JSONRepairError } from "jsonrepair";

/** Items recovered from one model answer, before per-item validation. */
export interface ParsedOutput {
  items: unknown[];
  /** Why nothing (or not everything) could be read; undefined when the answer parsed cleanly. */
  problem?: string;
}

/**
 * Read the model's answer into the list of per-text objects, repairing what can be repaired
 * (prose or code fences around the JSON, trailing commas, missing closing brackets).
 * When the model stopped at max_tokens the last object may be cut short yet still repair into
 * something that validates (jsonrepair closes open strings silently), so it is dropped and
 * re-asked rather than trusted.
 */
export function parseModelOutput(text: string, stopReason: string): ParsedOutput {
  const truncated = stopReason === "max_tokens";
  const start = text.search(/[[{]/);
  if (start < 0) return { items: [], problem: "no JSON in the answer" };
  let body = text.slice(start);
  if (!truncated) {
    // Drop prose or a closing code fence after the JSON.
    const end = Math.max(body.lastIndexOf("}"), body.lastIndexOf("]"));
    body = body.slice(0, end + 1);
  }
  let value: unknown;
  try {
    value = JSON.parse(jsonrepair(body));
  } catch (error) {
    const why = error instanceof JSONRepairError || error instanceof SyntaxError ? error.message : String(error);
    return { items: [], problem: `unreadable JSON: ${why}` };
  }
  const items = findItems(value);
  if (!items) return { items: [], problem: "the JSON has no list of items" };
  if (truncated) return { items: items.slice(0, -1), problem: "the answer was cut off at max_tokens" };
  return { items };
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
