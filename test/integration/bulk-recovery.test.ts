import { BedrockClient, CreateModelInvocationJobCommand } from "@aws-sdk/client-bedrock";
import { DeleteMessageCommand, type Message, PurgeQueueCommand, ReceiveMessageCommand, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { randomUUID } from "node:crypto";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createJobInput } from "../../src/adapters/bedrock/job-control.ts";
import { type AwsClients, createAwsClients } from "../../src/adapters/aws-clients.ts";
import { DynamoBulkStore } from "../../src/adapters/dynamodb/dynamo-bulk-store.ts";
import { DLQ_ATTRIBUTES } from "../../src/adapters/sqs/sqs-messages.ts";
import { toSqsJson } from "../../src/adapters/sqs/sqs-json.ts";
import { submissionOf } from "../../src/app/bulk/job-steps.ts";
import { LOCAL_CREDENTIALS, type LocalStack, startLocalStack } from "../../src/app/local/local-stack.ts";
import { createWorker, type Worker } from "../../src/app/worker/worker.ts";
import type { BulkStore, JobChanges, JobRecord } from "../../src/core/bulk/bulk-store.ts";
import { type Config, DEFAULTS, loadConfig } from "../../src/core/config/config.ts";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { type LabelResult, resultSchema } from "../../src/core/contracts/result.ts";
import { makeRequest } from "../support/pipeline.ts";
import { until } from "../support/until.ts";

// Recovering bulk submissions and collections end to end on the embedded stack: SQS and S3
// (fauxqs), DynamoDB (dynalite) and the Bedrock emulator's model invocation jobs (a test double),
// over the wire. The emulator answers a repeated clientRequestToken as the API reference
// documents it, without an error and without a jobArn: labelq finds its job by name instead.

let stack: LocalStack;
const logger = pino({ level: process.env.LABELQ_TEST_LOG ?? "silent" }, pino.destination(2));
const workers: Worker[] = [];
const clientSets: AwsClients[] = [];

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= LOCAL_CREDENTIALS.secretAccessKey;
  stack = await startLocalStack({
    queuePrefix: `lq-bulkrec-${randomUUID().slice(0, 6)}`,
    emulator: { seed: 5, jobs: { stepMs: 20, repeatTokenAnswer: "no-arn", quotas: { minRecordsPerJob: 1 } } },
  });
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close()));
  stack.emulator.jobs.setTiming({ stepMs: 20, manual: false });
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
    LABELQ_BULK_MIN_RECORDS: "1",
    LOG_LEVEL: "silent",
    ...env,
  });
}

function startWorker(env: Record<string, string> = {}, wrapStore?: (s: BulkStore) => BulkStore): Worker {
  const config = configFor(env);
  const clients = createAwsClients(config);
  clientSets.push(clients);
  const worker = createWorker(config, clients, logger, { bulk: { owner: `w-${randomUUID().slice(0, 6)}`, ...(wrapStore ? { wrapStore } : {}) } });
  workers.push(worker);
  worker.pool.start();
  worker.bulk?.start();
  return worker;
}

function sqsOf(): SQSClient {
  const clients = createAwsClients(configFor());
  clientSets.push(clients);
  return clients.sqs;
}

function store(): DynamoBulkStore {
  const clients = createAwsClients(configFor());
  clientSets.push(clients);
  return new DynamoBulkStore(clients.dynamo, DEFAULTS.tables.bulkTable, { recordTtlDays: 7 });
}

async function send(body: LabelRequest): Promise<void> {
  await sqsOf().send(new SendMessageCommand({ QueueUrl: stack.queues.requests, MessageBody: toSqsJson(body) }));
}

/** Waits for `count` messages on a queue (deleting them), however long the machine takes. */
async function arrivals(queueUrl: string, count: number, what: string): Promise<Message[]> {
  const sqs = sqsOf();
  const out: Message[] = [];
  await until(async () => {
    const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: ["All"] }));
    for (const m of res.Messages ?? []) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    out.push(...(res.Messages ?? []));
    return out.length >= count;
  }, { what: `${count} ${what}`, every: 0 });
  return out;
}

/** The result of one batch on the results queue (anything else that arrives meanwhile is dropped). */
async function resultOf(batchId: string): Promise<LabelResult> {
  const sqs = sqsOf();
  let found: LabelResult | undefined;
  await until(async () => {
    const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.queues.results, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const m of res.Messages ?? []) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: stack.queues.results, ReceiptHandle: m.ReceiptHandle }));
      const result = resultSchema.parse(JSON.parse(m.Body ?? ""));
      if (result.batchId === batchId) found = result;
    }
    return found !== undefined;
  }, { what: `the result of batch ${batchId}`, every: 0 });
  return found!;
}

/** The job a batch was assigned to, once it has one in `state`. */
async function jobOf(batchId: string, state: JobRecord["state"]): Promise<JobRecord> {
  const s = store();
  let job: JobRecord | undefined;
  await until(async () => {
    const jobKey = (await s.findIntake(batchId))?.jobKey;
    job = jobKey ? await s.getJob(jobKey) : undefined;
    return job?.state === state;
  }, `the bulk job of batch ${batchId} ${state}`);
  return job!;
}

/**
 * A store that dies with its worker at the first job write `at` picks, as a worker dying at that
 * step would: that write (or, with `writeFirst`, every call after it) and every later call fail, so
 * the worker's later passes (until it is closed) cannot move the job on.
 */
function dyingAt(at: (changes: JobChanges) => boolean, options: { writeFirst?: boolean } = {}): { wrap: (s: BulkStore) => BulkStore; died: () => boolean } {
  let dead = false;
  const alive = <T>(call: () => Promise<T>): Promise<T> => (dead ? Promise.reject(new Error("the worker is dead")) : call());
  return {
    died: () => dead,
    wrap: (s) => ({
      accept: (i) => alive(() => s.accept(i)),
      findIntake: (b) => alive(() => s.findIntake(b)),
      pending: (m) => alive(() => s.pending(m)),
      batchesOf: (j) => alive(() => s.batchesOf(j)),
      handingOff: () => alive(() => s.handingOff()),
      updateIntake: (c, ch) => alive(() => s.updateIntake(c, ch)),
      createJob: (j) => alive(() => s.createJob(j)),
      getJob: (k) => alive(() => s.getJob(k)),
      jobs: () => alive(() => s.jobs()),
      updateJob: async (current, changes) => {
        if (!at(changes) || dead) return alive(() => s.updateJob(current, changes));
        if (!options.writeFirst) {
          dead = true;
          return alive(() => s.updateJob(current, changes));
        }
        const next = await s.updateJob(current, changes);
        dead = true;
        return next;
      },
    }),
  };
}

/** A worker dying right after CreateModelInvocationJob, at the write of the job's ARN. */
const dyingAfterCreate = () => dyingAt((changes) => changes.jobArn !== undefined);

const bulkRequest = (n: number, overrides: Partial<LabelRequest> = {}) => makeRequest(n, { mode: "bulk", ...overrides });

describe("a bulk submission interrupted between CreateModelInvocationJob and recording the ARN", () => {
  it("is adopted by name on the next run although a repeated token is answered without an ARN: one job, nothing labelled live", async () => {
    const created = stack.emulator.jobs.created();
    const calls = stack.emulator.stats().calls;
    const dying = dyingAfterCreate();
    const first = startWorker({}, dying.wrap);
    const request = bulkRequest(10);
    await send(request);
    await until(dying.died, "the first worker to die recording the job ARN");
    await first.close();
    const job = await jobOf(request.batchId, "submitting");
    expect(job.jobArn).toBeUndefined();
    expect(stack.emulator.jobs.created() - created).toBe(1);
    // What a retry of the same submission would get: no error, no jobArn, no second job.
    const bedrock = new BedrockClient({ region: stack.region, endpoint: stack.env.AWS_ENDPOINT_URL_BEDROCK, credentials: LOCAL_CREDENTIALS });
    const submission = submissionOf({ bulk: configFor().bulk, objects: { bucket: stack.env.LABELQ_BULK_BUCKET! } }, job);
    const repeated = await bedrock.send(new CreateModelInvocationJobCommand(createJobInput(submission)));
    bedrock.destroy();
    expect(repeated.jobArn).toBeUndefined();
    expect(stack.emulator.jobs.created() - created).toBe(1);

    startWorker();
    const result = await resultOf(request.batchId);
    expect(result).toMatchObject({ batchId: request.batchId, status: "completed" });
    expect(result.items.every((it) => it.source === "model")).toBe(true);
    expect(stack.emulator.jobs.created() - created).toBe(1);
    const adopted = await jobOf(request.batchId, "done");
    expect(adopted.jobArn).toBe(stack.emulator.jobs.list().find((j) => j.jobName === job.jobName)?.jobArn);
    expect((await store().findIntake(request.batchId))?.state).toBe("done");
    expect(stack.emulator.stats().calls - calls).toBe(0);
  });

  it("is adopted, not submitted again with settings changed meanwhile: the job keeps what it was submitted with", async () => {
    const created = stack.emulator.jobs.created();
    const dying = dyingAfterCreate();
    const first = startWorker({ LABELQ_BULK_PREFIX: "first/" }, dying.wrap);
    const request = bulkRequest(10);
    await send(request);
    await until(dying.died, "the first worker to die recording the job ARN");
    await first.close();
    // Another prefix, timeout and role now: a Create with the same token and these would be refused.
    startWorker({ LABELQ_BULK_PREFIX: "second/", LABELQ_BULK_JOB_TIMEOUT_H: "48", LABELQ_BULK_ROLE_ARN: "arn:aws:iam::000000000000:role/another-batch-role" });
    const result = await resultOf(request.batchId);
    expect(result).toMatchObject({ batchId: request.batchId, status: "completed" });
    expect(stack.emulator.jobs.created() - created).toBe(1);
    const job = await jobOf(request.batchId, "done");
    expect(job.submission).toEqual({ roleArn: stack.env.LABELQ_BULK_ROLE_ARN, bucket: stack.env.LABELQ_BULK_BUCKET, timeoutHours: 24 });
    const made = stack.emulator.jobs.list().find((j) => j.jobArn === job.jobArn);
    expect(made).toMatchObject({ timeoutDurationInHours: 24, roleArn: stack.env.LABELQ_BULK_ROLE_ARN });
    expect(JSON.stringify(made?.inputDataConfig)).toContain(`s3://${stack.env.LABELQ_BULK_BUCKET}/first/jobs/`);
    expect((await store().findIntake(request.batchId))?.state).toBe("done");
  });
});

describe("a bulk submission interrupted after the job's files were written, before CreateModelInvocationJob", () => {
  it("is submitted with the role, bucket and timeout on the job record when the configuration changed meanwhile", async () => {
    const created = stack.emulator.jobs.created();
    const calls = stack.emulator.stats().calls;
    const dying = dyingAt((changes) => changes.state === "submitting", { writeFirst: true });
    const first = startWorker({ LABELQ_BULK_PREFIX: "early/" }, dying.wrap);
    const request = bulkRequest(10);
    await send(request);
    await until(dying.died, "the first worker to die once the job's files were written");
    await first.close();
    const job = await jobOf(request.batchId, "submitting");
    expect(stack.emulator.jobs.created() - created).toBe(0);
    const recorded = { roleArn: stack.env.LABELQ_BULK_ROLE_ARN, bucket: stack.env.LABELQ_BULK_BUCKET, timeoutHours: 24 };
    expect(job.submission).toEqual(recorded);
    const changed = { LABELQ_BULK_PREFIX: "late/", LABELQ_BULK_JOB_TIMEOUT_H: "48", LABELQ_BULK_ROLE_ARN: "arn:aws:iam::000000000000:role/another-batch-role" };
    // Another bucket as well: the submission still names the one the job's files are in.
    expect(submissionOf({ bulk: configFor(changed).bulk, objects: { bucket: "another-bulk-bucket" } }, job)).toMatchObject({
      roleArn: recorded.roleArn,
      timeoutHours: 24,
      inputUri: `s3://${recorded.bucket}/${job.inputPrefix}`,
      outputUri: `s3://${recorded.bucket}/${job.outputPrefix}`,
    });

    startWorker(changed);
    const result = await resultOf(request.batchId);
    expect(result).toMatchObject({ batchId: request.batchId, status: "completed" });
    expect(result.items.every((it) => it.source === "model")).toBe(true);
    expect(stack.emulator.jobs.created() - created).toBe(1);
    expect(stack.emulator.stats().calls - calls).toBe(0);
    const done = await jobOf(request.batchId, "done");
    const made = stack.emulator.jobs.list().find((j) => j.jobArn === done.jobArn);
    expect(made).toMatchObject({ timeoutDurationInHours: 24, roleArn: recorded.roleArn });
    expect(JSON.stringify(made?.inputDataConfig)).toContain(`s3://${recorded.bucket}/early/jobs/`);
    expect(JSON.stringify(made?.outputDataConfig)).toContain(`s3://${recorded.bucket}/early/jobs/`);
  });
});

describe("a bulk batch that cannot be published", () => {
  it("reaches the DLQ under its own code: BATCH_ID_CONFLICT when its batchId was labelled live with another payload meanwhile", async () => {
    stack.emulator.jobs.setTiming({ manual: true });
    startWorker({ LABELQ_BULK_ON_JOB_FAILURE: "dlq" });
    const request = bulkRequest(10);
    await send(request);
    const job = await jobOf(request.batchId, "running");
    // The same batchId, another payload, sent live while the job waits.
    await send(makeRequest(3, { batchId: request.batchId, mode: "live" }));
    const live = await resultOf(request.batchId);
    expect(live.items).toHaveLength(3);
    while (await stack.emulator.jobs.advance(job.jobArn!));
    const [dead] = await arrivals(stack.queues.dlq, 1, "batch(es) in the DLQ");
    expect(dead?.MessageAttributes?.[DLQ_ATTRIBUTES.code]?.StringValue).toBe("BATCH_ID_CONFLICT");
    expect(dead?.MessageAttributes?.[DLQ_ATTRIBUTES.batchId]?.StringValue).toBe(request.batchId);
    expect(dead?.MessageAttributes?.[DLQ_ATTRIBUTES.reason]?.StringValue).toMatch(/already used for a different payload/);
    expect((JSON.parse(dead?.Body ?? "{}") as LabelRequest).items).toHaveLength(10);
    expect((await store().findIntake(request.batchId))?.state).toBe("dead-lettered");
  });
});
