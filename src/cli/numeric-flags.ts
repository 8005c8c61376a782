import { InvalidArgumentError } from "commander";
import { InvalidRequestError } from "../core/errors/errors.ts";

/**
 * A commander argument parser for an integer flag in [min, max]. Commander calls it while it
 * parses, so a bad value is refused before any config is read or queue touched, and its error
 * names the flag and what was given.
 */
export function integerArg(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`must be an integer from ${min} to ${max}, not "${value}"`);
    return n;
  };
}

/** A commander argument parser for a number above zero (seconds, a rate). */
export function positiveNumberArg(unit: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`must be a positive number of ${unit}, not "${value}"`);
    return n;
  };
}

/**
 * Check an already parsed integer flag against a bound known only once config is read
 * (e.g. --batch-size against LABELQ_MAX_ITEMS); the error names the flag, the range and the value.
 */
export function checkIntegerFlag(flag: string, value: number, min: number, max: number, hint = ""): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new InvalidRequestError(`${flag} must be an integer from ${min} to ${max}${hint}, not "${value}"`);
  return value;
}
