import { Command, CommanderError, InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { checkIntegerFlag, integerArg, positiveNumberArg } from "../../src/cli/numeric-flags.ts";
import { InvalidRequestError } from "../../src/core/errors/errors.ts";

describe("integerArg", () => {
  it("accepts an integer within the range", () => {
    expect(integerArg(1, 100)("50")).toBe(50);
  });

  it("rejects a fraction, a word, an empty value or a value out of range, naming the range and the value", () => {
    for (const bad of ["0", "101", "2.5", "lots", ""]) {
      expect(() => integerArg(1, 100)(bad)).toThrow(InvalidArgumentError);
      expect(() => integerArg(1, 100)(bad)).toThrow(`must be an integer from 1 to 100, not "${bad}"`);
    }
  });

  it("makes commander refuse the flag while parsing, naming the flag", async () => {
    let ran = false;
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    program.option("--batch-size <n>", "texts per batch", integerArg(1, 100), 50).action(() => {
      ran = true;
    });
    const error = await program.parseAsync(["--batch-size", "0"], { from: "user" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CommanderError);
    expect((error as CommanderError).message).toContain("--batch-size");
    expect((error as CommanderError).message).toContain('must be an integer from 1 to 100, not "0"');
    expect(ran).toBe(false);
  });
});

describe("positiveNumberArg", () => {
  it("accepts a positive number and rejects zero, a negative number or a word", () => {
    expect(positiveNumberArg("seconds")("2.5")).toBe(2.5);
    for (const bad of ["0", "-1", "soon", ""]) expect(() => positiveNumberArg("seconds")(bad)).toThrow(`must be a positive number of seconds, not "${bad}"`);
  });
});

describe("checkIntegerFlag", () => {
  it("checks a parsed value against a bound from config, naming the flag, the range and the value", () => {
    expect(checkIntegerFlag("--batch-size", 50, 1, 100)).toBe(50);
    expect(() => checkIntegerFlag("--batch-size", 101, 1, 100, " (LABELQ_MAX_ITEMS)")).toThrow(InvalidRequestError);
    expect(() => checkIntegerFlag("--batch-size", 101, 1, 100, " (LABELQ_MAX_ITEMS)")).toThrow('--batch-size must be an integer from 1 to 100 (LABELQ_MAX_ITEMS), not "101"');
  });
});
