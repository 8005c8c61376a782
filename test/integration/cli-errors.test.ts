import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../src/app/local/local-stack.ts";
import { freePort, repoRoot, runCli } from "../support/run-cli.ts";

type Run = Awaited<ReturnType<typeof runCli>>;

/** A user's mistake ends with one clear line on stderr and a non-zero exit, never a stack. */
function expectOneLineError(run: Run, pattern: RegExp): void {
  expect(run.code, run.stderr).not.toBe(0);
  expect(run.code).not.toBeNull();
  expect(run.stderr.trim().split("\n"), run.stderr).toHaveLength(1);
  expect(run.stderr).not.toMatch(/^\s+at /m);
  expect(run.stderr.trim()).toMatch(pattern);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-cli-errors-"));
function file(name: string, content: string): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, content);
  return f;
}

/** Only what a fresh shell has, so no setting of the test's own environment helps. */
const clean = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LOG_LEVEL: "warn", AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" };

describe("every CLI error a user can cause: one line, non-zero exit, no stack", () => {
  let stack: LocalStack;
  let env: Record<string, string>;

  beforeAll(async () => {
    stack = await startLocalStack({ queuePrefix: `lq-errors-${Date.now()}` });
    env = { ...clean, ...stack.env };
  });

  afterAll(async () => {
    await stack.close();
  });

  it("demo with a texts file that does not exist ends at once, naming the file", async () => {
    const run = await runCli(["demo", "--texts", "nope.jsonl"], clean, undefined, { replaceEnv: true });
    expectOneLineError(run, /^labelq: INVALID_REQUEST: nope\.jsonl: no such file$/);
  });

  it("shows the stack with --debug or LOG_LEVEL=debug", async () => {
    for (const [args, extra] of [[["demo", "--texts", "nope.jsonl", "--debug"], {}], [["demo", "--texts", "nope.jsonl"], { LOG_LEVEL: "debug" }]] as const) {
      const run = await runCli([...args], { ...clean, ...extra }, undefined, { replaceEnv: true });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^labelq: INVALID_REQUEST: nope\.jsonl: no such file$/m);
      expect(run.stderr).toMatch(/^\s+at readTexts/m);
    }
  });

  it("local on a port in use names the port and the flag that picks another", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const ports = ["--dynamodb-port", String(await freePort()), "--bedrock-port", String(await freePort()), "--metrics-port", String(await freePort())];
      const run = await runCli(["local", "--sqs-port", String(port), ...ports, "--env-out", path.join(tmp, "local.env")], clean, undefined, { replaceEnv: true });
      expectOneLineError(run, new RegExp(`^labelq: CONFIG_INVALID: port ${port} on 127\\.0\\.0\\.1 is already in use \\(sqs\\).*--sqs-port$`));
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it("tables create with no DynamoDB endpoint says it went to AWS and how to point it at labelq local", async () => {
    // A region no DNS knows, so this fails the same with or without a network.
    const run = await runCli(["tables", "create"], { ...clean, AWS_REGION: "us-nowhere-1" }, undefined, { replaceEnv: true });
    expectOneLineError(run, /^labelq: STORE_UNAVAILABLE: cannot reach dynamodb\.us-nowhere-1\.amazonaws\.com .*no AWS_ENDPOINT_URL_DYNAMODB is set/);
  });

  it("a bad setting: every problem in one line", async () => {
    const run = await runCli(["status"], { ...clean, LABELQ_CONCURRENCY: "lots", LABELQ_WAIT_TIME_S: "99" }, undefined, { replaceEnv: true });
    expectOneLineError(run, /^labelq: CONFIG_INVALID: invalid configuration: .*LABELQ_CONCURRENCY="lots".*; .*LABELQ_WAIT_TIME_S/);
  });

  it("enqueue refuses an empty CSV and a CSV without a text column (listing the columns found)", async () => {
    expectOneLineError(await runCli(["enqueue", file("empty.csv", "")], env, undefined, { replaceEnv: true }), /^labelq: INVALID_REQUEST: .*empty\.csv: no texts in it/);
    const noText = file("no-text.csv", "id,body\na,hello\n");
    expectOneLineError(await runCli(["enqueue", noText], env, undefined, { replaceEnv: true }), /no "text" column in the header row \(columns found: "id", "body"\)$/);
  });

  it("enqueue refuses a model that does not exist and a taxonomy the prompts directory lacks, before sending", async () => {
    const texts = path.join(repoRoot, "samples", "small.csv");
    expectOneLineError(await runCli(["enqueue", texts, "--model", "gpt-x"], env, undefined, { replaceEnv: true }), /^labelq: INVALID_REQUEST: --model "gpt-x" is not a model labelq knows/);
    expectOneLineError(
      await runCli(["enqueue", texts, "--taxonomy", "no-such-taxonomy"], env, undefined, { replaceEnv: true }),
      /^labelq: TAXONOMY_NOT_FOUND: Unknown taxonomy "no-such-taxonomy"/,
    );
  });

  it("collect exits non-zero when fewer batch results arrived than asked for", async () => {
    const run = await runCli(["collect", "--batches", "2", "--timeout", "1"], env, undefined, { replaceEnv: true });
    expect(run.stderr).toMatch(/^collected 0 batch results$/m);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^labelq: QUEUE_ERROR: only 0 of the 2 batch results asked for arrived within 1 s/m);
  });

  it("a bad flag value, an unknown option or command: one line from the argument parser", async () => {
    for (const args of [["enqueue", "x.csv", "--batch-size", "0"], ["demo", "--nope"], ["nope"], ["status", "--interval", "soon"]]) {
      const run = await runCli(args, clean, undefined, { replaceEnv: true });
      expectOneLineError(run, /^error: /);
    }
  });

  it("an old Node says which Node labelq needs", async () => {
    // The check labelq's bin makes, under a Node that reports itself as 20.
    const preload = "data:text/javascript,Object.defineProperty(process.versions,'node',{value:'20.20.2'})";
    const { spawnSync } = await import("node:child_process");
    const run = spawnSync(process.execPath, ["--import", preload, path.join(repoRoot, "bin", "labelq.js"), "--help"], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe("labelq needs Node >= 24; run it with npx or install Node 24 (this is Node 20.20.2)");
  });
});
