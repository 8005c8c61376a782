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
 * A commander argument parser for a share: a number from 0 to 1, each end included or not as
 * `interval` writes it ("[0, 1]", "[0, 1)", "(0, 1]"); `what` says what the share is of.
 */
export function shareArg(interval: "[0, 1]" | "[0, 1)" | "(0, 1]", what = ""): (value: string) => number {
  const [lowIn, highIn] = [interval.startsWith("["), interval.endsWith("]")];
  const words = `${lowIn ? "from 0" : "above 0"} ${highIn ? "to 1" : "to below 1"}`;
  return (value) => {
    const n = Number(value);
    const inRange = (lowIn ? n >= 0 : n > 0) && (highIn ? n <= 1 : n < 1);
    if (value.trim() === "" || !Number.isFinite(n) || !inRange) throw new InvalidArgumentError(`must be a share ${words}${what ? ` (${what})` : ""}, not "${value}"`);
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
