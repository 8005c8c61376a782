import { Command, CommanderError } from "commander";
import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../src/core/errors/errors.ts";
import { registerDlqCommand } from "../../src/cli/dlq-command.ts";
import { rejection } from "../support/fakes.ts";

/**
 * Run `labelq dlq ...args` with config and clients that throw a plain Error: a flag error must
 * come first, as an InvalidRequestError, before any config is read or queue touched.
 */
async function run(args: string[]): Promise<void> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerDlqCommand(program, {
    config: () => {
      throw new Error("config should not be read");
    },
    clients: () => {
      throw new Error("no client should be made");
    },
    write: () => {},
    note: () => {},
    progress: undefined,
  });
  await program.parseAsync(["dlq", ...args], { from: "user" });
}

describe("labelq dlq: flags are checked before any queue is touched", () => {
  it("refuses --move-task with any filter, naming the filters, before reading config", async () => {
    for (const filters of [["--code", "MODEL_UNAVAILABLE"], ["--batch-id", "b-1"], ["--older-than", "1h"], ["--newer-than", "1h"], ["--limit", "5"]]) {
      const error = await rejection(run(["replay", "--move-task", "--execute", ...filters]));
      expect(error, filters.join(" ")).toBeInstanceOf(InvalidRequestError);
      expect((error as Error).message).toContain(`--move-task cannot be combined with ${filters[0]}`);
      expect((error as Error).message).toMatch(/Drop --move-task/);
    }
  });

  it("refuses a bad duration, a bad code, an empty age window and a bad rate", async () => {
    for (const args of [["replay", "--older-than", "10"], ["replay", "--code", "not a code"]]) {
      expect(await rejection(run(args)), args.join(" ")).toBeInstanceOf(InvalidRequestError);
    }
    await expect(run(["replay", "--older-than", "10"])).rejects.toThrow(/not a duration/);
    await expect(run(["replay", "--code", "not a code"])).rejects.toThrow(/not an error code/);
    await expect(run(["replay", "--older-than", "2h", "--newer-than", "1h"])).rejects.toThrow(/--older-than must be shorter/);
    await expect(run(["replay", "--move-task", "--rate", "501"])).rejects.toThrow(/from 1 to 500/);
  });

  it("refuses a bad number while commander parses the flags, naming the flag", async () => {
    for (const [args, message] of [
      [["replay", "--rate", "0"], /--rate <per-second>.*must be a positive number of messages a second, not "0"/],
      [["list", "--limit", "0"], /--limit <n>.*must be an integer from 1 to 100000, not "0"/],
      [["replay", "--limit", "2.5"], /--limit <n>.*must be an integer/],
      [["show", "m-1", "--visibility-timeout", "0"], /--visibility-timeout <s>.*must be an integer from 1 to 43200/],
    ] as const) {
      const error = await rejection(run([...args]));
      expect(error, args.join(" ")).toBeInstanceOf(CommanderError);
      expect((error as Error).message).toMatch(message);
    }
  });
});
