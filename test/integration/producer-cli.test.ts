import { ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LabelRequest } from "../../src/contracts/request.ts";
import { exited, freePort, runCli, startCli } from "../support/run-cli.ts";

/**
 * The producer commands against `labelq local --no-worker`: nothing consumes the queues, so each
 * test sees exactly what the commands sent and reads.
 */
describe("producer commands: enqueue, estimate", () => {
  let local: Awaited<ReturnType<typeof startCli>>;
  let info: { region: string; endpoints: { sqs: string }; queues: { requests: string; results: string; dlq: string } };
  let env: Record<string, string>;
  let sqs: SQSClient;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-producer-"));

  beforeAll(async () => {
    const ports = ["--sqs-port", String(await freePort()), "--dynamodb-port", String(await freePort()), "--bedrock-port", String(await freePort()), "--metrics-port", String(await freePort())];
    local = await startCli(["local", "--no-worker", ...ports, "--env-out", path.join(tmp, "local.env")]);
    info = JSON.parse(local.firstLine) as typeof info;
    env = {
      AWS_REGION: info.region,
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_ENDPOINT_URL_SQS: info.endpoints.sqs,
      LABELQ_REQUESTS_QUEUE_URL: info.queues.requests,
      LABELQ_RESULTS_QUEUE_URL: info.queues.results,
      LABELQ_DLQ_URL: info.queues.dlq,
    };
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
});
