import { controlError, type ConstraintFailure, type ControlError } from "../jobs/control-plane-errors.ts";

/** A JSON object (not an array, not null). */
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A control-plane request body as a JSON object, or the ValidationException Bedrock answers for anything else. */
export function parseBody(raw: string): { body: Record<string, unknown> } | ControlError {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return controlError("ValidationException", "The request body is not valid JSON.");
  }
  return isObject(body) ? { body } : controlError("ValidationException", "The request body must be a JSON object.");
}

/**
 * A required string member checked as the service model declares it (present, 1..max long,
 * matching `re`); a failure is added to `failures` in the API's wording and "" returned.
 */
export function checkString(failures: ConstraintFailure[], at: string, value: unknown, re: RegExp, max: number): string {
  if (typeof value !== "string") {
    failures.push({ at, value: value ?? "null", constraint: "Member must not be null" });
    return "";
  }
  if (value.length < 1 || value.length > max) failures.push({ at, value, constraint: `Member must have length between 1 and ${max}` });
  else if (!re.test(value)) failures.push({ at, value, constraint: `Member must satisfy regular expression pattern: ${re.source.slice(1, -1)}` });
  return value;
}
