import { DeleteMessageCommand, type Message, PurgeQueueCommand, ReceiveMessageCommand, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { randomUUID } from "node:crypto";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AwsClients, createAwsClients } from "../../src/adapters/aws-clients.ts";
import type { BulkStore } from "../../src/core/bulk/bulk-store.ts";
import { DynamoBulkStore } from "../../src/adapters/dynamodb/dynamo-bulk-store.ts";
import { type Config, DEFAULTS, loadConfig } from "../../src/core/config/config.ts";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { type LabelResult, resultSchema } from "../../src/core/contracts/result.ts";
import { LOCAL_CREDENTIALS, type LocalStack, startLocalStack } from "../../src/app/local/local-stack.ts";
import { toSqsJson } from "../../src/adapters/sqs/sqs-json.ts";
import { DLQ_ATTRIBUTES } from "../../src/adapters/sqs/sqs-messages.ts";
import { createWorker, type Worker } from "../../src/app/worker/worker.ts";
import { makeRequest } from "../support/pipeline.ts";
import { until } from "../support/until.ts";

// The bulk path end to end on the embedded stack: SQS and S3 (fauxqs), DynamoDB (dynalite) and
// the Bedrock emulator's model invocation jobs (a test double), all over the wire.

let stack: LocalStack;
const logger = pino({ level: process.env.LABELQ_TEST_LOG ?? "silent" }, pino.destination(2));
const workers: Worker[] = [];
const clientSets: AwsClients[] = [];

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= LOCAL_CREDENTIALS.secretAccessKey;
  stack = await startLocalStack({ queuePrefix: `lq-bulk-${randomUUID().slice(0, 6)}`, emulator: { seed: 3, jobs: { stepMs: 20 } } });
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close()));
  stack.emulator.jobs.setFaults({});
  stack.emulator.jobs.setQuotas({ minRecordsPerJob: 1 });
  stack.emulator.jobs.setTiming({ stepMs: 20, recordsPerStep: 1000, hourMs: 3_600_000 });
  // Purged, not drained: a purge also clears messages in flight or delayed, and takes no long poll.
  const sqs = sqsOf();
  for (const queueUrl of [stack.queues.results, stack.queues.requests, stack.queues.dlq]) await sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
  for (const c of clientSets.splice(0)) c.destroy();
});

afterAll(async () => {
  await stack?.close();
});

function configFor(env: Record<string, string> = {}): Config {
  return loadConfig({
    ...stack.env,
    LABELQ_WAIT_TIME_S: "1",
    LABELQ_VISIBILITY_TIMEOUT_S: "30",
    LABELQ_HEARTBEAT_S: "10",
    LABELQ_RETRY_BASE_DELAY_S: "1",
    LABELQ_SHUTDOWN_TIMEOUT_S: "5",
    LABELQ_BULK_POLL_S: "1",
    LABELQ_BULK_GATHER_S: "1",
    // The emulator's minimum is lowered to match (setQuotas): a test sends a few records, not 100.
    LABELQ_BULK_MIN_RECORDS: "1",
    LOG_LEVEL: "silent",
    ...env,
  });
}

function startWorker(env: Record<string, string> = {}, options: { store?: (s: BulkStore) => BulkStore } = {}): { worker: Worker; clients: AwsClients } {
  const config = configFor(env);
  const clients = createAwsClients(config);
  clientSets.push(clients);
  const worker = createWorker(config, clients, logger, { bulk: { owner: `w-${randomUUID().slice(0, 6)}`, ...(options.store ? { wrapStore: options.store } : {}) } });
  workers.push(worker);
  worker.pool.start();
  worker.bulk?.start();
  return { worker, clients };
}

function sqsOf(): SQSClient {
  const clients = createAwsClients(configFor());
  clientSets.push(clients);
  return clients.sqs;
}

async function send(body: LabelRequest): Promise<void> {
  await sqsOf().send(new SendMessageCommand({ QueueUrl: stack.queues.requests, MessageBody: toSqsJson(body) }));
}

/** Receives and deletes what arrives on a queue for `windowMs`, up to `count` messages: to empty a queue, or to show that nothing more comes. */
async function drain(queueUrl: string, count: number, windowMs: number): Promise<Message[]> {
  const sqs = sqsOf();
  const out: Message[] = [];
  const deadline = performance.now() + windowMs;
  while (out.length < count && performance.now() < deadline) out.push(...(await receiveOnce(sqs, queueUrl)));
  return out;
}

/** One long poll of up to 10 messages, deleted once received. */
async function receiveOnce(sqs: SQSClient, queueUrl: string): Promise<Message[]> {
  const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: ["All"] }));
  for (const m of res.Messages ?? []) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
  return res.Messages ?? [];
}

/** Waits for `count` messages on a queue, however long the machine takes (until's safety net names what never came). */
async function arrivals(queueUrl: string, count: number, what: string): Promise<Message[]> {
  const sqs = sqsOf();
  const out: Message[] = [];
  await until(async () => {
    out.push(...(await receiveOnce(sqs, queueUrl)));
    return out.length >= count;
  }, { what: `${count} ${what}`, every: 0 });
  return out;
}

/** Waits for `count` results on the results queue. */
async function results(count: number): Promise<LabelResult[]> {
  return (await arrivals(stack.queues.results, count, "result(s) on the results queue")).map((m) => resultSchema.parse(JSON.parse(m.Body ?? "")));
}

function bulkRequest(n: number, overrides: Partial<LabelRequest> = {}): LabelRequest {
  return makeRequest(n, { mode: "bulk", ...overrides });
}

function store(): DynamoBulkStore {
  const clients = createAwsClients(configFor());
  clientSets.push(clients);
  return new DynamoBulkStore(clients.dynamo, DEFAULTS.tables.bulkTable, { recordTtlDays: 7 });
}

/** The job that labelled a batch, once it is done. */
async function doneJobOf(batchId: string) {
  const s = store();
  let job;
  await until(async () => {
    const jobKey = (await s.findIntake(batchId))?.jobKey;
    job = jobKey ? await s.getJob(jobKey) : undefined;
    return job?.state === "done";
  }, `the bulk job of batch ${batchId} done`);
  return job as unknown as Awaited<ReturnType<DynamoBulkStore["getJob"]>>;
}

describe("the bulk path on the embedded stack", () => {
  beforeAll(() => stack.emulator.jobs.setQuotas({ minRecordsPerJob: 1 }));

  it("takes bulk batches off SQS, labels them in one job and publishes each once, at batch prices", async () => {
    const created = stack.emulator.jobs.created();
    const calls = stack.emulator.stats().calls;
    const requests = [bulkRequest(30), bulkRequest(20)];
    // Chunks of 10: 3 + 2 records. A job is full at 5, so it flushes once both batches wait,
    // however long the machine takes to receive them; the gather time never comes into it.
    startWorker({ LABELQ_CHUNK_SIZE: "10", LABELQ_BULK_MAX_RECORDS_PER_JOB: "5", LABELQ_BULK_GATHER_S: "3600" });
    for (const r of requests) await send(r);
    const out = await results(2);
    expect(out.map((r) => r.batchId).sort()).toEqual(requests.map((r) => r.batchId).sort());
    for (const r of out) {
      expect(r.status).toBe("completed");
      expect(r.items.every((it) => it.source === "model")).toBe(true);
      expect(r.usage.costUsd).toBeGreaterThan(0);
    }
    expect(stack.emulator.jobs.created() - created).toBe(1);
    expect(stack.emulator.stats().calls - calls).toBe(0);
    expect(await doneJobOf(requests[0]!.batchId)).toMatchObject({ state: "done", batches: 2, bedrockStatus: "Completed" });
    // Nothing more: once published, a batch is not published again.
    expect(await drain(stack.queues.results, 1, 2_500)).toHaveLength(0);
  });

  it("creates no second job when the worker dies between CreateModelInvocationJob and recording the ARN", async () => {
    const created = stack.emulator.jobs.created();
    let dieOnce = true;
    const dying = (s: BulkStore): BulkStore => ({
      ...bind(s),
      updateJob: (current, changes) => {
        if (changes.jobArn !== undefined && dieOnce) {
          dieOnce = false;
          return Promise.reject(new Error("the worker died here"));
        }
        return s.updateJob(current, changes);
      },
    });
    const first = startWorker({}, { store: dying });
    const request = bulkRequest(10);
    await send(request);
    await until(() => !dieOnce, "the first worker to fail recording the job ARN");
    await first.worker.close();
    expect(stack.emulator.jobs.created() - created).toBe(1);
    startWorker();
    const [result] = await results(1);
    expect(result?.batchId).toBe(request.batchId);
    expect(stack.emulator.jobs.created() - created).toBe(1);
  });

  it("finishes, after a restart, a job a stopped worker submitted", async () => {
    stack.emulator.jobs.setTiming({ stepMs: 400 });
    const first = startWorker();
    const request = bulkRequest(10);
    await send(request);
    await until(async () => (await store().jobs()).some((j) => j.state === "running"), "a bulk job running");
    await first.worker.close();
    startWorker();
    const [result] = await results(1);
    expect(result).toMatchObject({ batchId: request.batchId, status: "completed" });
  });

  it("re-asks live the records a partially completed job did not answer, and completes the batch", async () => {
    stack.emulator.jobs.setFaults({ partialShare: 0.5 });
    const calls = stack.emulator.stats().calls;
    startWorker({ LABELQ_CHUNK_SIZE: "10" });
    const request = bulkRequest(40);
    await send(request);
    const [result] = await results(1);
    expect(result?.status).toBe("completed");
    expect(stack.emulator.stats().calls - calls).toBeGreaterThan(0);
    const job = await doneJobOf(request.batchId);
    expect(job?.bedrockStatus).toBe("PartiallyCompleted");
    expect(job?.summary?.reaskedTexts).toBeGreaterThan(0);
  });

  it("reads out-of-order output by record id and re-asks the records of malformed lines", async () => {
    stack.emulator.jobs.setFaults({ malformedLines: 1, missingRecords: 1 });
    startWorker({ LABELQ_CHUNK_SIZE: "5" });
    const request = bulkRequest(30);
    await send(request);
    const [result] = await results(1);
    expect(result?.status).toBe("completed");
    expect(result?.items.map((it) => it.id)).toEqual(request.items.map((it) => it.id));
    const job = await doneJobOf(request.batchId);
    expect(job?.summary?.malformedLines).toBe(1);
    expect(job?.summary?.reaskedTexts).toBe(10);
  });

  it("labels live a batch whose deadline is too close for bulk, and bulk one without", async () => {
    const created = stack.emulator.jobs.created();
    startWorker({ LABELQ_QUOTA_TPM: "1000", LABELQ_BULK_MIN_BACKLOG_S: "0", LABELQ_BULK_TURNAROUND_S: "3600" });
    const soon = makeRequest(10, { deadline: new Date(Date.now() + 60_000).toISOString() });
    await send(soon);
    const [live] = await results(1);
    expect(live?.batchId).toBe(soon.batchId);
    expect(stack.emulator.jobs.created() - created).toBe(0);
    const later = makeRequest(10);
    await send(later);
    const [bulk] = await results(1);
    expect(bulk?.batchId).toBe(later.batchId);
    expect(stack.emulator.jobs.created() - created).toBe(1);
  });

  it("sends the batches of a failed job to the live path", async () => {
    stack.emulator.jobs.setFaults({ fail: "validation" });
    startWorker();
    const request = bulkRequest(10);
    await send(request);
    const [result] = await results(1);
    expect(result).toMatchObject({ batchId: request.batchId, status: "completed" });
    expect((await store().findIntake(request.batchId))?.state).toBe("live");
  });

  it("sends the batches of an expired job to the DLQ with the reason when LABELQ_BULK_ON_JOB_FAILURE=dlq", async () => {
    stack.emulator.jobs.setFaults({ neverStart: true });
    stack.emulator.jobs.setTiming({ hourMs: 50 });
    startWorker({ LABELQ_BULK_ON_JOB_FAILURE: "dlq" });
    const request = bulkRequest(10);
    await send(request);
    const [dead] = await arrivals(stack.queues.dlq, 1, "batch(es) in the DLQ");
    expect(dead?.MessageAttributes?.[DLQ_ATTRIBUTES.code]?.StringValue).toBe("MODEL_TIMEOUT");
    expect(dead?.MessageAttributes?.[DLQ_ATTRIBUTES.reason]?.StringValue).toMatch(/expired/);
    expect((JSON.parse(dead?.Body ?? "{}") as LabelRequest).batchId).toBe(request.batchId);
  });

  it("sends an explicit bulk request for a model without batch inference to the DLQ, never retried", async () => {
    startWorker({ LABELQ_ALLOWED_MODELS: "llama4-scout" });
    await send(bulkRequest(5, { model: "llama4-scout" }));
    const [dead] = await arrivals(stack.queues.dlq, 1, "batch(es) in the DLQ");
    expect(dead?.MessageAttributes?.[DLQ_ATTRIBUTES.code]?.StringValue).toBe("INVALID_REQUEST");
    expect(dead?.MessageAttributes?.[DLQ_ATTRIBUTES.reason]?.StringValue).toMatch(/no batch inference/);
  });
});

/** A store's methods bound to it, so a test can replace one. */
function bind(s: BulkStore): BulkStore {
  return {
    accept: (i) => s.accept(i),
    findIntake: (b) => s.findIntake(b),
    pending: (m) => s.pending(m),
    batchesOf: (j) => s.batchesOf(j),
    handingOff: () => s.handingOff(),
    updateIntake: (c, ch) => s.updateIntake(c, ch),
    createJob: (j) => s.createJob(j),
    getJob: (k) => s.getJob(k),
    jobs: () => s.jobs(),
    updateJob: (c, ch) => s.updateJob(c, ch),
  };
}
