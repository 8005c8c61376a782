import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contractJsonSchema } from "../../src/core/contracts/json-schema.ts";
import { resultSchema } from "../../src/core/contracts/result.ts";
import { makeRequest } from "../support/pipeline.ts";
import { exited, type LocalStackLine, localPortFlags, producerEnv, runCli, startCli } from "../support/run-cli.ts";
import { until } from "../support/until.ts";

interface LocalInfo extends LocalStackLine {
  endpoints: { sqs: string; dynamodb: string; bedrock: string };
  metrics: string | null;
  envFile: string;
}

/** The variables an env file of `export NAME=value` lines sets, as a shell that sources it would have them. */
function sourced(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of fs.readFileSync(file, "utf8").matchAll(/^export ([A-Z_][A-Z0-9_]*)=(?:'([^']*)'|(\S*))$/gm)) env[m[1]!] = m[2] ?? m[3] ?? "";
  return env;
}

describe("labelq local: a stack any producer can talk to", () => {
  let local: Awaited<ReturnType<typeof startCli>>;
  let info: LocalInfo;
  let env: Record<string, string>;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-cli-"));

  beforeAll(async () => {
    local = await startCli(["local", ...(await localPortFlags()), "--env-out", path.join(tmp, "local.env")], {
      LABELQ_WAIT_TIME_S: "1",
    });
    info = JSON.parse(local.firstLine) as LocalInfo;
    env = producerEnv(info);
  });

  afterAll(async () => {
    if (local.child.exitCode === null) {
      local.child.kill("SIGTERM");
      await exited(local.child);
    }
  });

  it("prints one JSON line with the region, the endpoints on the requested ports and the queue URLs", () => {
    expect(info.region).toBe("us-east-1");
    expect(Object.keys(info.endpoints).sort()).toEqual(["bedrock", "bedrockControl", "dynamodb", "s3", "sqs"]);
    for (const url of Object.values(info.endpoints)) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.queues.requests).toMatch(/labelq-requests$/);
    expect(info.queues.results).toMatch(/labelq-results$/);
    expect(info.queues.dlq).toMatch(/labelq-dlq$/);
  });

  it("writes a ready-to-source env file: with it, labelq commands reach the stack, the DLQ and the pool's /metrics", async () => {
    expect(info.envFile).toBe(path.join(tmp, "local.env"));
    const fileEnv = sourced(info.envFile);
    expect(fileEnv).toMatchObject({
      AWS_REGION: "us-east-1",
      AWS_DEFAULT_REGION: "us-east-1",
      AWS_ENDPOINT_URL_SQS: info.endpoints.sqs,
      AWS_ENDPOINT_URL_DYNAMODB: info.endpoints.dynamodb,
      LABELQ_REQUESTS_QUEUE_URL: info.queues.requests,
      LABELQ_RESULTS_QUEUE_URL: info.queues.results,
      LABELQ_DLQ_URL: info.queues.dlq,
    });
    // A clean environment plus the file, as a new shell that sourced it would have.
    const clean = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", LOG_LEVEL: "warn" };
    const status = await runCli(["status"], { ...clean, ...fileEnv }, undefined, { replaceEnv: true });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^dlq\s+\d+\s+\d+\s+\d+$/m);
    expect(status.stdout).toMatch(new RegExp(`^worker ${info.metrics ?? "-"}: in flight \\d+`, "m"));
    const tables = await runCli(["tables", "create"], { ...clean, ...fileEnv }, undefined, { replaceEnv: true });
    expect(tables.code, tables.stderr).toBe(0);
    expect(tables.stdout).toMatch(/labelq-label-cache: exists/);
    // The env file turns the bulk path on (bucket and role), so its table is created too.
    expect(fileEnv.LABELQ_BULK_BUCKET).toBeDefined();
    expect(tables.stdout).toMatch(/labelq-bulk: exists/);
  });

  it("status --watch prints its first screen at once, not after the interval", async () => {
    const watch = await startCli(["status", "--watch", "--interval", "600"], sourced(info.envFile));
    try {
      expect(watch.firstLine).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    } finally {
      watch.child.kill("SIGINT");
      await exited(watch.child);
    }
  });

  it("labels a request sent by a plain SQS producer and puts the result on the results queue", async () => {
    const sqs = new SQSClient({ region: info.region, endpoint: info.endpoints.sqs, credentials: { accessKeyId: "x", secretAccessKey: "y" } });
    const request = makeRequest(3);
    await sqs.send(new SendMessageCommand({ QueueUrl: info.queues.requests, MessageBody: JSON.stringify(request) }));
    let body: string | undefined;
    await until(async () => {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: info.queues.results, WaitTimeSeconds: 1 }));
      body = out.Messages?.[0]?.Body;
      return body !== undefined;
    }, { what: `the result of ${request.batchId} on the results queue`, every: 0 });
    sqs.destroy();
    const result = resultSchema.parse(JSON.parse(body ?? "null"));
    expect(result.batchId).toBe(request.batchId);
    expect(result.status).toBe("completed");
  });

  it("enqueue splits a CSV into batches and prints their ids; collect writes each result as a JSONL line", async () => {
    const enqueue = await runCli(["enqueue", "samples/small.csv", "--batch-size", "5", "--prefix", "csv-test"], env);
    expect(enqueue.code, enqueue.stderr).toBe(0);
    expect(enqueue.stdout.trim().split("\n")).toEqual(["csv-test-000001", "csv-test-000002", "csv-test-000003"]);
    expect(enqueue.stderr).toMatch(/enqueued 12 texts in 3 batches/);

    const out = path.join(tmp, "results.jsonl");
    // collect returns once the 3 results are in; its timeout is only a safety net for a busy machine.
    const collect = await runCli(["collect", "--batches", "3", "--timeout", "120", "--out", out], env, 150_000);
    expect(collect.code, collect.stderr).toBe(0);
    const lines = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => resultSchema.parse(JSON.parse(l)));
    expect(lines.map((r) => r.batchId).sort()).toEqual(["csv-test-000001", "csv-test-000002", "csv-test-000003"]);
    expect(lines.reduce((n, r) => n + r.items.length, 0)).toBe(12);
  });

});

describe("labelq local: shutdown", () => {
  // A stack of its own: the tests above share theirs, and may run in any order.
  it("exits 0 on SIGTERM", async () => {
    const local = await startCli(["local", ...(await localPortFlags())], { LABELQ_WAIT_TIME_S: "1" });
    local.child.kill("SIGTERM");
    expect(await exited(local.child)).toBe(0);
  });
});

describe("labelq commands", () => {
  it("schema request|result prints the committed JSON Schema", async () => {
    for (const name of ["request", "result"] as const) {
      const run = await runCli(["schema", name]);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual(contractJsonSchema(name));
    }
  });

  it("refuses to start on a bad setting, naming the variable and what it allows", async () => {
    const run = await runCli(["worker"], { LABELQ_CONCURRENCY: "lots" });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/CONFIG_INVALID/);
    expect(run.stderr).toMatch(/LABELQ_CONCURRENCY="lots"/);
  });

  it("names the missing queue when enqueue has nowhere to send", async () => {
    const run = await runCli(["enqueue", "samples/small.csv"], { LABELQ_REQUESTS_QUEUE_URL: "" });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/LABELQ_REQUESTS_QUEUE_URL/);
  });

  it("has --help on every command", async () => {
    for (const cmd of [[], ["worker"], ["local"], ["enqueue"], ["collect"], ["schema"], ["demo"]]) {
      const run = await runCli([...cmd, "--help"]);
      expect(run.code, cmd.join(" ")).toBe(0);
      expect(run.stdout).toMatch(/Usage: labelq/);
    }
  });

  it("demo labels the bundled sample end to end, says the model was simulated and writes JSONL", async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "labelq-demo-")), "demo.jsonl");
    const run = await runCli(["demo", "--out", out]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/batches 5 \(completed 5\)\s+texts 250\s+labelled 250/);
    expect(run.stdout).toMatch(/Bedrock emulator, a test double/);
    expect(run.stdout).toMatch(/texts\/s/);
    expect(run.stdout).toContain(out);
    const results = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => resultSchema.parse(JSON.parse(l)));
    expect(results).toHaveLength(5);
    expect(new Set(results.flatMap((r) => r.items.map((i) => i.id))).size).toBe(250);
  });
});
