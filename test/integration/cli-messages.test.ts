import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../src/local/local-stack.ts";
import { runCli } from "../support/run-cli.ts";

// What the CLI says in the cases a new user meets first: each message says what it means for them.

/** Only what a fresh shell has, so no setting of the test's own environment helps. */
const clean = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LOG_LEVEL: "warn", AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" };

describe("CLI messages against the embedded stack", () => {
  let stack: LocalStack;
  let env: Record<string, string>;

  beforeAll(async () => {
    stack = await startLocalStack({ queuePrefix: `lq-msgs-${Date.now()}` });
    env = { ...clean, ...stack.env };
  });

  afterAll(async () => {
    await stack?.close();
  });

  it("tables create on a service without TTL says what that means: expired records are ignored on read, just not deleted", async () => {
    const run = await runCli(["tables", "create"], env, undefined, { replaceEnv: true });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^labelq-label-cache: exists, TTL on expiresAt unsupported by this DynamoDB service$/m);
    expect(run.stdout).toMatch(/^without TTL nothing changes for labelling: labelq ignores expired records when it reads them; they are just not deleted/m);
    // Said once, not per table.
    expect(run.stdout.match(/without TTL/g)).toHaveLength(1);
  });

  it("dlq list on an empty DLQ says the DLQ is empty, with no table", async () => {
    const run = await runCli(["dlq", "list"], env, undefined, { replaceEnv: true });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim()).toBe(`the DLQ is empty (${stack.queues.dlq})`);
  });

  it("eval --model with an unknown model names each known model once, before labelling anything", async () => {
    const run = await runCli(["eval", "--model", "gpt-x"], clean, undefined, { replaceEnv: true });
    expect(run.code).toBe(1);
    expect(run.stderr).not.toMatch(/labelling/);
    const line = run.stderr.trim();
    expect(line).toMatch(/^labelq: MODEL_NOT_ALLOWED: --model "gpt-x" is not a model labelq knows \(known: .*llama3\.3-70b.*\)$/);
    const known = /\(known: (.*)\)$/.exec(line)![1]!.split(", ");
    expect(known.length).toBeGreaterThan(1);
    expect(new Set(known).size).toBe(known.length);
  });
});
