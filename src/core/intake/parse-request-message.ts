import type { z } from "zod";
import { type LabelRequest, type RequestLimits, requestSchema } from "../contracts/request.ts";
import { InvalidRequestError } from "../errors/errors.ts";

/** Parse and validate a request message body; every problem becomes an InvalidRequestError naming the field. */
export function parseRequestMessage(body: string | undefined, limits: RequestLimits): LabelRequest {
  if (body === undefined || body.length === 0) throw new InvalidRequestError("The message body is empty");
  const bytes = Buffer.byteLength(body, "utf8");
  if (bytes > limits.maxBodyBytes) {
    throw new InvalidRequestError(`The message body is ${bytes} bytes; the limit is ${limits.maxBodyBytes}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new InvalidRequestError(`The message body is not JSON${whereJsonFailed(error)}`);
  }
  const parsed = requestSchema(limits).safeParse(json);
  if (!parsed.success) {
    const issues = formatIssues(parsed.error.issues, json);
    throw new InvalidRequestError(`The request does not match contract v1: ${issues.slice(0, 5).join("; ")}${issues.length > 5 ? ` (+${issues.length - 5} more)` : ""}`, issues);
  }
  return parsed.data;
}

/**
 * Where JSON.parse gave up, without its message: V8 quotes the start of the body there
 * (`Unexpected token 'L', "Love the c"... is not valid JSON`), and the body is user text
 * that this error carries into logs and the DLQ reason.
 */
function whereJsonFailed(error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  if (message.startsWith("Unexpected end of JSON input")) return " (it ends too early)";
  const position = /at position (\d+)/.exec(message)?.[1];
  return position === undefined ? "" : ` (at position ${position})`;
}

/**
 * Each issue at its path; an item's field also names the item's id (`items.3 (id "r-4").text`), the
 * numbering producers know their texts by, where the position alone counts from 0.
 */
function formatIssues(issues: readonly z.core.$ZodIssue[], json: unknown): string[] {
  const items = (json as { items?: unknown } | null)?.items;
  const idAt = (index: PropertyKey): string | undefined => {
    const id = Array.isArray(items) && typeof index === "number" ? (items[index] as { id?: unknown } | null)?.id : undefined;
    return typeof id === "string" ? id.slice(0, 128) : undefined;
  };
  return issues.map((i) => {
    if (i.path.length === 0) return `body: ${i.message}`;
    const [head, index, field, ...rest] = i.path;
    const id = head === "items" && field !== undefined && field !== "id" ? idAt(index!) : undefined;
    if (id === undefined) return `${i.path.join(".")}: ${i.message}`;
    return `items.${String(index)} (id ${JSON.stringify(id)}).${[field, ...rest].map(String).join(".")}: ${i.message}`;
  });
}

/** The batchId of a body that failed validation, when one can be read, so the DLQ entry can name it. */
export function peekBatchId(body: string | undefined): string | undefined {
  try {
    const id = (JSON.parse(body ?? "") as { batchId?: unknown }).batchId;
    return typeof id === "string" ? id.slice(0, 128) : undefined;
  } catch {
    return undefined;
  }
}
