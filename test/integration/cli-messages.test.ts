import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../src/app/local/local-stack.ts";
import { repoRoot, runCli } from "../support/run-cli.ts";

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

describe("docs/taxonomy.md: checking a change", () => {
  const doc = fs.readFileSync(path.join(repoRoot, "docs", "taxonomy.md"), "utf8");
  const section = doc.slice(doc.indexOf("### Checking a change"));
  const commands = [...section.matchAll(/^npx labelq (prompts .*?)\s+#/gm)].map((m) => m[1]!.trim().split(/\s+/));

  it("runs every prompts command the doc shows, and diff ends as the doc says", async () => {
    expect(commands.map((c) => c[1])).toEqual(["list", "show", "render", "diff"]);
    for (const args of commands) {
      const run = await runCli(args, clean, undefined, { replaceEnv: true });
      expect(run.code, `labelq ${args.join(" ")}: ${run.stderr}`).toBe(0);
      if (args[1] === "diff") {
        const shown = /`diff` ends with what changed for the cache:\n\n```\n([\s\S]*?)\n```/.exec(section)![1]!.split("\n");
        expect(run.stdout).toContain(`${shown[0]}\n${shown[1]}\n`);
      }
    }
  });

  it("a taxonomy the prompts directory lacks is named, with the taxonomies it has", async () => {
    const run = await runCli(["prompts", "diff", "app-reviews", "prod", "staging"], clean, undefined, { replaceEnv: true });
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe('labelq: TAXONOMY_NOT_FOUND: Unknown taxonomy "app-reviews": the prompts directory has no such taxonomy (it has: product-feedback, support-triage)');
  });
});
