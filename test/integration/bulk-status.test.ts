import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { randomUUID } from "node:crypto";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AwsClients, createAwsClients } from "../../src/adapters/aws-clients.ts";
import { DynamoBulkStore } from "../../src/adapters/dynamodb/dynamo-bulk-store.ts";
import { DEFAULTS, loadConfig } from "../../src/core/config/config.ts";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { LOCAL_CREDENTIALS, type LocalStack, startLocalStack } from "../../src/app/local/local-stack.ts";
import { toSqsJson } from "../../src/adapters/sqs/sqs-json.ts";
import { createWorker, type Worker } from "../../src/app/worker/worker.ts";
import { makeRequest } from "../support/pipeline.ts";
import { runCli } from "../support/run-cli.ts";
import { until } from "../support/until.ts";

// `labelq status` and `labelq jobs list` see bulk batches wherever they are: waiting to be gathered
// into a job, and in one. The embedded stack over the wire; the emulator's jobs move only when
// the test steps them, so a job stays where the test looks at it.

const MODEL = "llama3.3-70b";
let stack: LocalStack;
let worker: Worker;
let clients: AwsClients;
let env: Record<string, string>;

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= LOCAL_CREDENTIALS.secretAccessKey;
  stack = await startLocalStack({ queuePrefix: `lq-bstat-${randomUUID().slice(0, 6)}`, emulator: { seed: 5, jobs: { manual: true, quotas: { minRecordsPerJob: 1 } } } });
  env = {
    ...stack.env,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    LABELQ_WAIT_TIME_S: "1",
    LABELQ_BULK_POLL_S: "1",
    // Batches wait until a job is full (3 records, one per batch here), never for the gather time.
    LABELQ_BULK_GATHER_S: "3600",
    LABELQ_BULK_MAX_RECORDS_PER_JOB: "3",
    LABELQ_BULK_MIN_RECORDS: "1",
    LABELQ_CHUNK_SIZE: "10",
    LOG_LEVEL: "silent",
  };
  const config = loadConfig(env);
  clients = createAwsClients(config);
  worker = createWorker(config, clients, pino({ level: "silent" }), { bulk: { owner: `w-${randomUUID().slice(0, 6)}` } });
  worker.pool.start();
  worker.bulk?.start();
});

afterAll(async () => {
  await worker?.close();
  clients?.destroy();
  await stack?.close();
});

async function send(request: LabelRequest): Promise<void> {
  await clients.sqs.send(new SendMessageCommand({ QueueUrl: stack.queues.requests, MessageBody: toSqsJson(request) }));
}

describe("bulk batches in labelq status and labelq jobs list", () => {
  it("counts batches gathering and in jobs, and lists pending gathers next to the jobs", async () => {
    const store = new DynamoBulkStore(clients.dynamo, DEFAULTS.tables.bulkTable, { recordTtlDays: 7 });
    await send(makeRequest(4, { mode: "bulk" }));
    await send(makeRequest(3, { mode: "bulk" }));
    await until(async () => (await store.pending(MODEL)).length === 2, "two bulk batches waiting for a job");

    const status = await runCli(["status", "--metrics-url", "http://127.0.0.1:9/metrics"], env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^bulk: 2 batches gathering \(7 texts\), 0 in jobs \(0 open\), 0 being collected \(0 jobs\), 0 being handed off$/m);
    const waiting = await runCli(["jobs", "list"], env);
    expect(waiting.code, waiting.stderr).toBe(0);
    expect(waiting.stdout).toMatch(/^gathering \(waiting for a job\)$/m);
    expect(waiting.stdout).toMatch(/^llama3\.3-70b\s+2\s+7\s+\d{4}-\d\d-\d\dT\S+\s+in \d+ s \(LABELQ_BULK_GATHER_S\)$/m);
    expect(waiting.stdout).toMatch(/^no bulk jobs on record$/m);

    // A third batch fills a job of 3 records; the emulator holds it at Submitted.
    await send(makeRequest(2, { mode: "bulk" }));
    await until(async () => (await store.jobs()).some((j) => j.state === "running" && j.batches === 3), "a bulk job of three batches submitted");
    const inJob = await runCli(["status", "--metrics-url", "http://127.0.0.1:9/metrics"], env);
    expect(inJob.code, inJob.stderr).toBe(0);
    expect(inJob.stdout).toMatch(/^bulk: 0 batches gathering \(0 texts\), 3 in jobs \(1 open\), 0 being collected \(0 jobs\), 0 being handed off$/m);
    const listed = await runCli(["jobs", "list"], env);
    expect(listed.stdout).not.toMatch(/^gathering/m);
    expect(listed.stdout).toMatch(new RegExp(`^\\S+\\s+${MODEL.replace(".", "\\.")}\\s+running\\s+Submitted\\s+3\\s+3\\s`, "m"));
  });
});
