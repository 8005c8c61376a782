import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../src/app/local/local-stack.ts";
import { runCli } from "../support/run-cli.ts";

// `labelq worker` that cannot work says why in one line and exits, against the embedded stack's
// SQS over the wire. Without the start-up check such a worker retried its polls forever, so each
// run here has a bounded safety net: a worker that never exits fails the test instead of hanging it.

type Run = Awaited<ReturnType<typeof runCli>>;
// A worker that loops instead of refusing to start never exits: the net catches that, on a busy machine too.
const SAFETY_NET_MS = 120_000;

function expectOneLine(run: Run, pattern: RegExp): void {
  expect(run.code, run.stderr).toBe(1);
  expect(run.stderr.trim().split("\n"), run.stderr).toHaveLength(1);
  expect(run.stderr).not.toMatch(/^\s+at /m);
  expect(run.stderr.trim()).toMatch(pattern);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-preflight-"));
/** Only what a fresh shell has; the stack's endpoints are added where a test needs them. */
const clean = { PATH: process.env.PATH ?? "", HOME: tmp, LOG_LEVEL: "warn", LABELQ_HTTP_PORT: "0" };

describe("labelq worker that cannot work", () => {
  let stack: LocalStack;
  let env: Record<string, string>;

  beforeAll(async () => {
    stack = await startLocalStack({ queuePrefix: `lq-pre-${Date.now()}` });
    env = { ...clean, ...stack.env, AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" };
  });

  afterAll(async () => {
    await stack?.close();
  });

  it("with no queue variables names every missing one in one message", async () => {
    const run = await runCli(["worker"], clean, SAFETY_NET_MS, { replaceEnv: true });
    expectOneLine(run, /^labelq: CONFIG_INVALID: invalid configuration: LABELQ_REQUESTS_QUEUE_URL: .*; LABELQ_RESULTS_QUEUE_URL: .*; LABELQ_DLQ_URL: /);
  });

  it("under LABELQ_RESIDENCY=region refuses, in one line, a default model that has no in-Region id, naming those that have one", async () => {
    const run = await runCli(["worker"], { ...env, AWS_REGION: "eu-west-1", LABELQ_RESIDENCY: "region" }, SAFETY_NET_MS, { replaceEnv: true });
    expectOneLine(run, /^labelq: WORKER_CANNOT_START: LABELQ_RESIDENCY=region keeps prompts in eu-west-1, .*llama3\.3-70b \(LABELQ_DEFAULT_MODEL\).*models that can run in eu-west-1: [a-z0-9.-]+(, [a-z0-9.-]+)*/);
  });

  it("refuses, in one line that does not show the token, Redis credentials the limiter's Redis refuses", async () => {
    // Redis on 127.0.0.1:6379 refuses a user it does not know, whatever the password.
    const token = `not-the-token-${Date.now()}`;
    const run = await runCli(
      ["worker"],
      { ...env, LABELQ_REDIS_URL: "redis://127.0.0.1:6379", LABELQ_REDIS_USERNAME: `labelq-nobody-${Date.now()}`, LABELQ_REDIS_AUTH_TOKEN: token },
      SAFETY_NET_MS,
      { replaceEnv: true },
    );
    expectOneLine(run, /^labelq: WORKER_CANNOT_START: Redis at redis:\/\/127\.0\.0\.1:6379 \(LABELQ_REDIS_URL\) refused the limiter's credentials: .*LABELQ_REDIS_AUTH_TOKEN/);
    expect(run.stderr + run.stdout).not.toContain(token);
  });

  it("exits non-zero with one line naming a requests queue or DLQ that does not exist", async () => {
    const missing = stack.queues.requests.replace(/[^/]+$/, "no-such-queue");
    const requests = await runCli(["worker"], { ...env, LABELQ_REQUESTS_QUEUE_URL: missing }, SAFETY_NET_MS, { replaceEnv: true });
    expectOneLine(requests, new RegExp(`^labelq: WORKER_CANNOT_START: the requests queue ${missing.replace(/[.]/g, "\\.")} \\(LABELQ_REQUESTS_QUEUE_URL\\) does not exist`));
    const dlq = await runCli(["worker"], { ...env, LABELQ_DLQ_URL: missing }, SAFETY_NET_MS, { replaceEnv: true });
    expectOneLine(dlq, /^labelq: WORKER_CANNOT_START: the dead-letter queue \S+no-such-queue \(LABELQ_DLQ_URL\) does not exist/);
  });

  it("exits non-zero with one line when no credentials are found anywhere", async () => {
    const empty = path.join(tmp, "empty");
    fs.writeFileSync(empty, "");
    const { AWS_ACCESS_KEY_ID: _id, AWS_SECRET_ACCESS_KEY: _secret, ...noKeys } = env;
    // No keys, empty config and credentials files, and no instance metadata to wait on.
    const run = await runCli(
      ["worker"],
      { ...noKeys, AWS_CONFIG_FILE: empty, AWS_SHARED_CREDENTIALS_FILE: empty, AWS_EC2_METADATA_DISABLED: "true" },
      SAFETY_NET_MS,
      { replaceEnv: true },
    );
    expectOneLine(run, /^labelq: WORKER_CANNOT_START: no AWS credentials found .*the requests queue \S+ \(LABELQ_REQUESTS_QUEUE_URL\)/);
  });
});
