import { describe, expect, it } from "vitest";
import { integerFlag } from "../../src/cli-options.ts";
import { InvalidRequestError } from "../../src/errors/errors.ts";

describe("integerFlag", () => {
  it("accepts an integer within the range", () => {
    expect(integerFlag("--batch-size", "50", 1, 100)).toBe(50);
  });

  it("rejects a fraction, a word or a value out of range, naming the flag, the range and the value", () => {
    for (const bad of ["0", "101", "2.5", "lots"]) {
      expect(() => integerFlag("--batch-size", bad, 1, 100, " (LABELQ_MAX_ITEMS)")).toThrow(InvalidRequestError);
      expect(() => integerFlag("--batch-size", bad, 1, 100, " (LABELQ_MAX_ITEMS)")).toThrow(`--batch-size must be an integer from 1 to 100 (LABELQ_MAX_ITEMS), not "${bad}"`);
    }
  });
});
