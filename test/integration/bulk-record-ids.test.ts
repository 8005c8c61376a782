import { BedrockClient, CreateModelInvocationJobCommand, GetModelInvocationJobCommand, type GetModelInvocationJobCommandOutput } from "@aws-sdk/client-bedrock";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assembleJobs } from "../../src/app/bulk/assemble-jobs.ts";
import type { BulkContext } from "../../src/app/bulk/bulk-context.ts";
import { chunkSizesFor, planBatchRecords, recordsBytes } from "../../src/app/bulk/plan-records.ts";
import { readJobOutput } from "../../src/app/bulk/read-output.ts";
import { recordItems, resolveBatch } from "../../src/app/bulk/resolve-batch.ts";
import { sortBatchOutput } from "../../src/app/bulk/sort-batch-output.ts";
import { bulkTableDefinition } from "../../src/adapters/dynamodb/create-tables.ts";
import { DynamoBulkStore } from "../../src/adapters/dynamodb/dynamo-bulk-store.ts";
import { S3ObjectStore, s3Uri } from "../../src/adapters/s3/object-store.ts";
import { LOCAL_CREDENTIALS, type LocalStack, startLocalStack } from "../../src/app/local/local-stack.ts";
import type { IntakeRecord, JobRecord } from "../../src/core/bulk/bulk-store.ts";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { PromptRegistry } from "../../src/core/prompts/prompt-registry.ts";
import { BULK_SETTINGS, FakeOutbox } from "../support/bulk-fakes.ts";
import { PROMPTS_DIR, silentLogger } from "../support/fakes.ts";
import { until } from "../support/until.ts";

// Record ids and sizes of labelq's bulk jobs against the embedded stack, over the wire: the bulk
// records in dynalite, input, record map and output in fauxqs's S3, the jobs run by the Bedrock
// emulator (a test double) that validates their input as docs/bedrock-fidelity.md says (B9, B15).

const MODEL_ID = "us.meta.llama3-3-70b-instruct-v1:0";
const prompts = new PromptRegistry(PROMPTS_DIR);
let stack: LocalStack;
let bedrock: BedrockClient;
let s3: S3Client;
let dynamo: DynamoDBClient;
let table: string;

beforeAll(async () => {
  stack = await startLocalStack({ queuePrefix: `lq-ids-${randomUUID().slice(0, 6)}`, emulator: { seed: 5, jobs: { stepMs: 5 } } });
  bedrock = new BedrockClient({ region: stack.region, endpoint: stack.env.AWS_ENDPOINT_URL_BEDROCK, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  s3 = new S3Client({ region: stack.region, endpoint: stack.env.AWS_ENDPOINT_URL_S3, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
  dynamo = new DynamoDBClient({ region: stack.region, endpoint: stack.env.AWS_ENDPOINT_URL_DYNAMODB, credentials: LOCAL_CREDENTIALS });
  table = `lq-bulk-ids-${randomUUID().slice(0, 8)}`;
  await dynamo.send(new CreateTableCommand(bulkTableDefinition(table)));
});

afterAll(async () => {
  bedrock?.destroy();
  s3?.destroy();
  dynamo?.destroy();
  await stack?.close();
});

/** Submits a job over the SDK and waits until it has ended. */
async function runJob(inputPrefix: string, outputPrefix: string): Promise<GetModelInvocationJobCommandOutput & { jobArn: string }> {
  const bucket = stack.bulkBucket;
  const { jobArn } = await bedrock.send(
    new CreateModelInvocationJobCommand({
      jobName: `lq-${randomUUID().slice(0, 8)}`,
      roleArn: stack.env.LABELQ_BULK_ROLE_ARN,
      modelId: MODEL_ID,
      modelInvocationType: "Converse",
      clientRequestToken: randomUUID(),
      inputDataConfig: { s3InputDataConfig: { s3Uri: s3Uri(bucket, inputPrefix) } },
      outputDataConfig: { s3OutputDataConfig: { s3Uri: s3Uri(bucket, outputPrefix) } },
    }),
  );
  let job: GetModelInvocationJobCommandOutput | undefined;
  await until(async () => {
    job = await bedrock.send(new GetModelInvocationJobCommand({ jobIdentifier: jobArn }));
    return ["Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"].includes(job.status ?? "");
  }, { what: `job ${jobArn} to end`, every: 5 });
  return { ...job!, jobArn: jobArn! };
}

describe("the Bedrock emulator's jobs: recordId (docs: batch-inference-data)", () => {
  const line = (recordId: string) => JSON.stringify({ recordId, modelInput: { messages: [{ role: "user", content: [{ text: "the kettle broke" }] }], inferenceConfig: { maxTokens: 64 } } });
  async function inputWith(ids: string[]): Promise<string> {
    const prefix = `ids/${randomUUID()}/`;
    await s3.send(new PutObjectCommand({ Bucket: stack.bulkBucket, Key: `${prefix}in.jsonl`, Body: `${ids.map(line).join("\n")}\n` }));
    return prefix;
  }

  it("fails at validation a job whose input has a recordId other than 1-11 alphanumeric characters, and runs one whose ids are", async () => {
    stack.emulator.jobs.setQuotas({ minRecordsPerJob: 1 });
    const composite = await runJob(await inputWith(["00000000000", "b-1#t1#0"]), "ids-out/");
    expect(composite).toMatchObject({ status: "Failed", message: expect.stringMatching(/^Line 2 of the input file .*in\.jsonl has the recordId "b-1#t1#0": a recordId must be an alphanumeric string of at most 11 characters\.$/) as unknown });
    const twelve = await runJob(await inputWith(["CALL00000001"]), "ids-out/");
    expect(twelve).toMatchObject({ status: "Failed", message: expect.stringContaining('recordId "CALL00000001"') as unknown });
    const valid = await runJob(await inputWith(["CALL0000001", "0000000000Z", "a"]), "ids-out/");
    expect(valid).toMatchObject({ status: "Completed", successRecordCount: 3 });
  });
});

describe("labelq's bulk jobs on the embedded stack", () => {
  // Three bytes a character in UTF-8, one in UTF-16; an emoji four bytes, two in UTF-16.
  const japanese = (k: number) => `${"この製品は本当に素晴らしいです。色も形も気に入りましたが、電池の持ちが少し悪いです。".repeat(12)} 👍🏽 ${k}`;
  const request = (batchId: string): LabelRequest => ({ schemaVersion: 1, batchId, items: Array.from({ length: 20 }, (_, k) => ({ id: `t${k + 1}`, text: japanese(k) })) });

  it("pass the emulator's validation (record ids, the job size quota in bytes) and are read back a line at a time through their record map", async () => {
    const store = new DynamoBulkStore(DynamoDBDocumentClient.from(dynamo), table, { recordTtlDays: 7 });
    const objects = new S3ObjectStore(s3, stack.bulkBucket);
    const ctx: BulkContext = {
      store,
      objects,
      // Jobs are submitted over the SDK below: assembly never calls the job control.
      control: { create: () => Promise.reject(new Error("not here")), get: () => Promise.reject(new Error("not here")), stop: () => Promise.resolve() },
      prompts,
      settings: BULK_SETTINGS,
      bulk: {
        prefix: `lq-${randomUUID().slice(0, 6)}/`,
        roleArn: stack.env.LABELQ_BULK_ROLE_ARN,
        gatherS: 0,
        limits: { maxRecordsPerFile: 50_000, maxRecordsPerJob: 50_000, maxFileBytes: 256_000_000, maxJobBytes: 5_000_000_000, maxJobs: 20, minRecords: 1 },
        jobTimeoutH: 24,
        onJobFailure: "live",
      },
      outbox: new FakeOutbox(),
      label: () => Promise.reject(new Error("no live call here")),
      owner: "w1",
      leaseMs: 60_000,
      logger: silentLogger(),
      now: Date.now,
    };
    const accepted: IntakeRecord[] = [];
    for (const batchId of ["jp1", "jp2"]) {
      const r = request(batchId);
      await store.accept({ batchId, payloadHash: `sha256:${batchId}`, model: "llama3.3-70b", request: r, replyTo: "https://sqs.test/results", receivedAt: new Date(Date.now() - 60_000 + accepted.length).toISOString() });
      accepted.push((await store.findIntake(batchId))!);
    }
    const bytes = async (intake: IntakeRecord) => {
      const batch = await resolveBatch(ctx, intake);
      const items = recordItems(intake.request.items, batch);
      return recordsBytes(planBatchRecords(intake.batchId, items, chunkSizesFor(items, batch.prompt, batch, BULK_SETTINGS.chunkSize), batch.prompt, batch));
    };
    // A job size quota, on both sides, that both batches fit in counted in characters but not in bytes.
    const maxJobBytes = (await bytes(accepted[0]!)) + (await bytes(accepted[1]!)) - 1;
    const prompt = await prompts.resolve("product-feedback", "prod");
    const chars = accepted.reduce((n, i) => n + 2 * (prompt.system.length + 2_000) + i.request.items.reduce((m, it) => m + it.text.length, 0), 0);
    expect(chars).toBeLessThanOrEqual(maxJobBytes);
    ctx.bulk.limits.maxJobBytes = maxJobBytes;
    stack.emulator.jobs.setQuotas({ minRecordsPerJob: 1, maxJobBytes });

    await assembleJobs(ctx, await store.jobs(), new AbortController().signal);
    await assembleJobs(ctx, await store.jobs(), new AbortController().signal);
    const jobs = (await store.jobs()).filter((j) => j.state === "submitting");
    expect(jobs.map((j) => j.batches)).toEqual([1, 1]);

    for (const job of jobs) {
      const ended = await runJob(job.inputPrefix, job.outputPrefix);
      expect(ended.status, ended.message).toBe("Completed");
      const read = await readJobOutput(ctx, { ...job, jobArn: ended.jobArn } satisfies JobRecord);
      expect(read.malformedLines).toBe(0);
      const [intake] = (await Promise.all(accepted.map((i) => store.findIntake(i.batchId)))).filter((i) => i?.jobKey === job.jobKey);
      const batch = await resolveBatch(ctx, intake!);
      const sorted = sortBatchOutput(intake!.batchId, recordItems(intake!.request.items, batch), intake!.chunks!, read.records, batch.prompt, batch.model);
      expect(sorted.records).toEqual({ answered: 2, failed: 0, missing: 0 });
      expect(sorted.labelled.map((it) => it.id)).toEqual(intake!.request.items.map((it) => it.id));
    }
  });
});
