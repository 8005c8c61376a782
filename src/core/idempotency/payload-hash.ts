import { createHash } from "node:crypto";
import type { LabelRequest } from "../contracts/request.ts";

/** Hash of a request's content, independent of key order, to tell a duplicate from a reused batchId. */
export function payloadHash(request: LabelRequest): string {
  return `sha256:${createHash("sha256").update(canonical(request)).digest("hex")}`;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
