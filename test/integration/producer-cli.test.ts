import { ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { LabelResult } from "../../src/core/contracts/result.ts";
import { InvalidRequestError } from "../../src/core/errors/errors.ts";
import { listDlq } from "../../src/app/dlq/dlq-inspect.ts";
import { publishResult, sendToDlq } from "../../src/adapters/sqs/sqs-messages.ts";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { exited, type LocalStackLine, localPortFlags, producerEnv, runCli, startCli } from "../support/run-cli.ts";

/**
 * The producer commands against `labelq local --no-worker`: nothing consumes the queues, so each
 * test sees exactly what the commands sent and reads.
 */
/** A valid result of `batchId` (what a worker publishes), for the results queue. */
function resultOf(batchId: string): LabelResult {
  const at = new Date().toISOString();
  return {
    schemaVersion: 1,
    batchId,
    status: "completed",
    taxonomy: "product-feedback",
    promptVersion: "v1",
    promptHash: `sha256:${"0".repeat(64)}`,
    model: "llama3.3-70b",
    items: [{ id: "r-1", labels: { sarcasm: false }, source: "model", model: "m", error: null }],
    usage: { modelCalls: 1, inputTokens: 1, outputTokens: 1, cacheReadInputTokens: 0, cacheWriteInputTokens: 0, reservedTokens: 0, cacheHits: 0, costUsd: 0 },
    timing: { receivedAt: at, completedAt: at, durationMs: 0 },
    attributes: {},
  };
}

describe("producer commands: enqueue, estimate, collect", () => {
  let local: Awaited<ReturnType<typeof startCli>>;
  let info: LocalStackLine;
  let env: Record<string, string>;
  let sqs: SQSClient;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-producer-"));

  beforeAll(async () => {
    local = await startCli(["local", "--no-worker", ...(await localPortFlags()), "--env-out", path.join(tmp, "local.env")]);
    info = JSON.parse(local.firstLine) as LocalStackLine;
    env = producerEnv(info);
    sqs = new SQSClient({ region: info.region, endpoint: info.endpoints.sqs, credentials: { accessKeyId: "x", secretAccessKey: "y" } });
  });

  afterAll(async () => {
    sqs?.destroy();
    if (local && local.child.exitCode === null) {
      local.child.kill("SIGTERM");
      await exited(local.child);
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** A file of 30 texts as a new user has them: one empty, one of 20,000 characters, German, emoji; no ids. */
  function mine(): string {
    const lines = Array.from({ length: 30 }, (_, k) => {
      const text = k === 1 ? "" : k === 28 ? "Too long. ".repeat(2_000) : k === 5 ? "Schöne Farbe, aber der Akku 🔋 ist nach einer Woche leer" : `Text number ${k + 1} 👍`;
      return JSON.stringify({ text });
    });
    const file = path.join(tmp, "mine.jsonl");
    fs.writeFileSync(file, lines.join("\n") + "\n");
    return file;
  }

  async function drainRequests(): Promise<LabelRequest[]> {
    const out: LabelRequest[] = [];
    for (let empty = 0; empty < 2; ) {
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: info.queues.requests, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      const messages = got.Messages ?? [];
      empty = messages.length === 0 ? empty + 1 : 0;
      out.push(...messages.map((m) => JSON.parse(m.Body ?? "") as LabelRequest));
    }
    return out;
  }

  it("enqueue lists an empty and an over-long text by the id it gives them, counts them, and sends the other 28", async () => {
    const run = await runCli(["enqueue", mine(), "--batch-size", "10", "--prefix", "mine"], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim().split("\n")).toEqual(["mine-000001", "mine-000002", "mine-000003"]);
    const lines = run.stderr.trim().split("\n");
    expect(lines).toContain("mine-2: TEXT_EMPTY: the text is empty");
    expect(lines).toContain("mine-29: TEXT_TOO_LONG: the text is 20000 characters; the limit is 5000 (LABELQ_MAX_TEXT_CHARS)");
    expect(lines).toContain("2 of 30 texts left out (TEXT_EMPTY 1, TEXT_TOO_LONG 1); the worker would answer each with that item error; sending the other 28");
    expect(run.stderr).toMatch(/enqueued 28 texts in 3 batches to .* \(2 left out, listed above\)/);
    expect(run.stderr).not.toContain("Too long.");
    const sent = (await drainRequests()).flatMap((r) => r.items.map((it) => it.id));
    expect(sent).toHaveLength(28);
    expect(sent).not.toContain("mine-2");
    expect(sent).not.toContain("mine-29");
  });

  it("estimate lists the same texts by id and estimates the rest", async () => {
    const run = await runCli(["estimate", mine(), "--batch-size", "10"], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("mine-2: TEXT_EMPTY: the text is empty");
    expect(run.stderr).toContain("mine-29: TEXT_TOO_LONG");
    expect(run.stderr).toContain("estimating the other 28");
    expect(run.stdout).toMatch(/^28 texts in 3 batches;/m);
  });

  it("estimate sizes the fleet on the share of the quota it is given, with the default model's burn-down, and refuses a share above 1", async () => {
    const quota = { ...env, LABELQ_QUOTA_RPM: "200", LABELQ_QUOTA_TPM: "600000", LABELQ_DEFAULT_MODEL: "claude-sonnet" };
    const run = await runCli(["estimate", mine(), "--batch-size", "10", "--deadline", "10", "--seconds-per-batch", "40", "--quota-share", "0.5"], quota);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("live at 50% of each model's quota (--quota-share)");
    expect(run.stdout).toContain("quota share: 50% of 200 RPM / 600,000 TPM (--quota-share)");
    expect(run.stdout).toMatch(/^ {2}one batch: .* output x 5 burn-down\): .* quota tokens settled, .* reserved while its calls run$/m);
    const refused = await runCli(["estimate", mine(), "--quota-share", "1.5"], quota);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`option '--quota-share <x>' argument '1.5' is invalid. must be a share above 0 to 1`);
  });

  async function drainResults(): Promise<string[]> {
    const ids: string[] = [];
    for (let empty = 0; empty < 2; ) {
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: info.queues.results, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      const messages = got.Messages ?? [];
      empty = messages.length === 0 ? empty + 1 : 0;
      ids.push(...messages.map((m) => (JSON.parse(m.Body ?? "") as LabelResult).batchId));
    }
    return ids;
  }

  it("collect --ids takes only the results of the batches it waits for and leaves an earlier producer's on the queue", async () => {
    await publishResult(sqs, info.queues.results, resultOf("stale-000001"));
    await publishResult(sqs, info.queues.results, resultOf("ours-000001"));
    await publishResult(sqs, info.queues.results, resultOf("ours-000002"));
    const ids = path.join(tmp, "ids.txt");
    fs.writeFileSync(ids, "ours-000001\nours-000002\n");
    const out = path.join(tmp, "collected.jsonl");
    const run = await runCli(["collect", "--ids", ids, "--timeout", "60", "--out", out], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^collected 2 batch results into .*collected\.jsonl$/m);
    const written = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as LabelResult).batchId);
    expect(written.sort()).toEqual(["ours-000001", "ours-000002"]);
    // The stale result is still there, visible at once for whoever it belongs to.
    expect(await drainResults()).toEqual(["stale-000001"]);
  });

  it("collect --batch-id says at once that a batch it waits for is in the DLQ, with the reason, leaves it there, and does not advise a longer timeout", async () => {
    const request = { schemaVersion: 1, batchId: "dead-000001", items: [{ id: "r-1", text: "hello" }] };
    const error = new InvalidRequestError('The request does not match contract v1: items.0 (id "r-1").id: bad');
    await sendToDlq(sqs, info.queues.dlq, { MessageId: "m-1", Body: JSON.stringify(request) }, { error, receiveCount: 1, sourceQueue: info.queues.requests, batchId: "dead-000001" });
    await publishResult(sqs, info.queues.results, resultOf("alive-000001"));
    // A timeout far beyond the test's safety net: only the DLQ watch can end this run in time.
    const run = await runCli(["collect", "--batch-id", "dead-000001", "--batch-id", "alive-000001", "--timeout", "3600", "--out", path.join(tmp, "dead.jsonl")], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^batch dead-000001 is in the DLQ \(at [-0-9T:.Z]+\): INVALID_REQUEST: The request does not match contract v1: items\.0 \(id "r-1"\)\.id: bad$/m);
    expect(run.stderr).toMatch(/^collected 1 batch results into /m);
    expect(run.stderr).toMatch(/1 of 2 batch results arrived; 1 batch is in the DLQ \(reasons above\): waiting longer will not bring its result; fix the cause, then `labelq dlq replay --batch-id dead-000001 --execute`$/m);
    expect(run.stderr).not.toMatch(/raise --timeout/);
    const { entries } = await listDlq(sqs, info.queues.dlq, { limit: 10, visibilityTimeoutS: 5 });
    expect(entries.map((e) => e.batchId)).toEqual(["dead-000001"]);
  });

  it("collect --batches N still counts any results, as before", async () => {
    await publishResult(sqs, info.queues.results, resultOf("any-000001"));
    const run = await runCli(["collect", "--batches", "1", "--timeout", "60"], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('"batchId":"any-000001"');
  });
});

describe("demo: no silent wait", () => {
  it("says at once which batch the worker dead-lettered and why, and ends without advising a longer timeout", async () => {
    const out = path.join(os.tmpdir(), `labelq-demo-dlq-${process.pid}.jsonl`);
    const faults = JSON.stringify({ faults: [{ kind: "validation", probability: 1 }] });
    // A timeout far beyond the test's safety net: only the DLQ watch can end this run in time.
    const run = await runCli(["demo", "--texts", "samples/small.csv", "--batch-size", "5", "--emulator", faults, "--timeout", "3600", "--out", out], {});
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^batch demo-[-0-9TZ]+-r1-000001 is in the DLQ \(at [-0-9T:.Z]+\): MODEL_REJECTED_REQUEST: ValidationException/m);
    expect(run.stderr).toMatch(/0 of 3 batch results arrived; 3 batches are in the DLQ \(reasons above\): waiting longer will not bring their results; the demo's stack ends with it/);
    expect(run.stderr + run.stdout).not.toMatch(/raise --timeout/);
  });
});

