import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import dynalite from "dynalite";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IntakeRecord } from "../../src/core/bulk/bulk-store.ts";
import { DynamoBulkStore } from "../../src/adapters/dynamodb/dynamo-bulk-store.ts";
import { bulkTableDefinition } from "../../src/adapters/dynamodb/create-tables.ts";

// DynamoBulkStore on dynalite (in this process, over the wire): index rows and expiry by state.

const TABLE = "labelq-bulk-test";
const DAY_MS = 86_400_000;
let server: ReturnType<typeof dynalite>;
let raw: DynamoDBClient;
let db: DynamoDBDocumentClient;
let clock = Date.parse("2026-11-01T00:00:00Z");
let store: DynamoBulkStore;

beforeAll(async () => {
  server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  raw = new DynamoDBClient({ region: "us-east-1", endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, credentials: { accessKeyId: "x", secretAccessKey: "x" } });
  db = DynamoDBDocumentClient.from(raw);
  await raw.send(new CreateTableCommand(bulkTableDefinition(TABLE)));
  store = new DynamoBulkStore(db, TABLE, { recordTtlDays: 7, now: () => clock });
});

afterAll(async () => {
  raw?.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function item(pk: string): Promise<Record<string, unknown> | undefined> {
  return (await db.send(new GetCommand({ TableName: TABLE, Key: { pk }, ConsistentRead: true }))).Item;
}

async function accept(batchId: string): Promise<IntakeRecord> {
  const request = { schemaVersion: 1 as const, batchId, items: [{ id: "t1", text: "the app crashes on start" }] };
  await store.accept({ batchId, payloadHash: `sha256:${batchId}`, model: "llama3.3-70b", request, replyTo: "https://sqs.test/results", receivedAt: new Date(clock).toISOString() });
  return (await store.findIntake(batchId))!;
}

describe("DynamoBulkStore on dynalite", () => {
  it("keeps a batch handed off from pending findable until its hand-off is final", async () => {
    const pending = await accept("h1");
    const marked = await store.updateIntake(pending, { state: "handing-off", handOffTo: "live", reason: "too few records", handOffCode: "MODEL_ERROR" });
    expect(marked).toBeDefined();
    expect(await store.findIntake("h1")).toMatchObject({ state: "handing-off", handOffTo: "live", handOffCode: "MODEL_ERROR" });
    expect((await store.handingOff()).map((b) => b.batchId)).toEqual(["h1"]);
    expect(await store.pending("llama3.3-70b")).toEqual([]);
    await store.updateIntake(marked!, { state: "live" });
    expect(await store.handingOff()).toEqual([]);
  });

  it("sets no expiry while a batch or a job is in progress, and one from when it becomes final", async () => {
    const start = clock;
    let batch = await accept("t1");
    expect((await item("batch#t1"))?.expiresAt).toBeUndefined();
    await store.createJob({
      jobKey: "j1",
      model: "llama3.3-70b",
      modelId: "m",
      state: "assembling",
      clientRequestToken: "tok",
      jobName: "labelq-j1",
      inputPrefix: "in/",
      outputPrefix: "out/",
      files: [],
      records: 0,
      batches: 0,
      createdAt: new Date(clock).toISOString(),
    });
    batch = (await store.updateIntake(batch, { state: "assigned", jobKey: "j1" }))!;
    const job = (await store.updateJob((await store.getJob("j1"))!, { state: "running", jobArn: "arn:job" }))!;
    expect((await item("job#j1"))?.expiresAt).toBeUndefined();
    // Past the 7 days after acceptance (waiting for a slot, then a long job): both are still there.
    clock = start + 10 * DAY_MS;
    expect((await store.jobs()).map((j) => j.jobKey)).toEqual(["j1"]);
    expect((await store.batchesOf("j1")).map((b) => b.batchId)).toEqual(["t1"]);
    expect(await store.findIntake("t1")).toBeDefined();
    await store.updateIntake(batch, { state: "done" });
    expect(await store.updateJob(job, { state: "done" })).toBeDefined();
    const expected = Math.floor(clock / 1000) + 7 * 86_400;
    expect((await item("batch#t1"))?.expiresAt).toBe(expected);
    expect((await item("job#j1"))?.expiresAt).toBe(expected);
    clock += 8 * DAY_MS;
    expect(await store.getJob("j1")).toBeUndefined();
    expect(await store.findIntake("t1")).toBeUndefined();
  });

  it("keeps the role, bucket and timeout a job is submitted with; a job written without them reads back without them", async () => {
    const job = {
      model: "llama3.3-70b",
      modelId: "m",
      state: "submitting" as const,
      clientRequestToken: "tok",
      inputPrefix: "in/",
      outputPrefix: "out/",
      files: [],
      records: 1,
      batches: 1,
      createdAt: new Date(clock).toISOString(),
    };
    const submission = { roleArn: "arn:aws:iam::000000000000:role/labelq-bedrock-batch", bucket: "labelq-bulk", timeoutHours: 36 };
    await store.createJob({ ...job, jobKey: "s1", jobName: "labelq-s1", submission });
    await store.createJob({ ...job, jobKey: "s2", jobName: "labelq-s2" });
    expect((await store.getJob("s1"))?.submission).toEqual(submission);
    expect((await store.jobs()).find((j) => j.jobKey === "s1")?.submission).toEqual(submission);
    const old = (await store.getJob("s2"))!;
    expect(old).not.toHaveProperty("submission");
    await store.updateJob(old, { submission: { ...submission, bucket: "labelq-bulk-2" } });
    expect((await store.getJob("s2"))?.submission).toEqual({ ...submission, bucket: "labelq-bulk-2" });
  });
});
