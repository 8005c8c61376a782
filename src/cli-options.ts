import { InvalidRequestError } from "./errors/errors.ts";

/** Parse an integer command-line flag in [min, max]; the error names the flag, the range and what was given. */
export function integerFlag(flag: string, value: string, min: number, max: number, hint = ""): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidRequestError(`${flag} must be an integer from ${min} to ${max}${hint}, not "${value}"`);
  return n;
}
