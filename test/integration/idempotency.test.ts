import { GetCommand, DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { afterEach, describe, expect, it } from "vitest";
import { DLQ_ATTRIBUTES } from "../../src/adapters/sqs/sqs-messages.ts";
import { makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

async function batchRecord(p: Pipeline, batchId: string): Promise<Record<string, unknown> | undefined> {
  const doc = DynamoDBDocumentClient.from(p.dynamo);
  return (await doc.send(new GetCommand({ TableName: p.tables.batchesTable, Key: { batchId }, ConsistentRead: true }))).Item;
}

describe("batch idempotency: never pay twice, never lose a batch", () => {
  it("processes a message delivered twice at once to two workers with one set of model calls; the duplicate republishes the stored result", async () => {
    pipeline = await startPipeline({ emulator: { latency: { fixedMs: 800, perOutputTokenMs: 0 } } });
    const outcomes: string[] = [];
    for (const w of [pipeline.startWorker(), pipeline.startWorker()]) w.pool.on("outcome", (_m, o) => outcomes.push(o));
    const request = makeRequest(10);
    await pipeline.send(request);
    await pipeline.send(request);

    const results = await pipeline.results(2);
    expect(results.map((r) => r.batchId)).toEqual([request.batchId, request.batchId]);
    expect(results[1]).toEqual(results[0]);
    expect(pipeline.emulator.stats().calls).toBe(1);
    expect(outcomes).toContain("published");
    expect(outcomes).toContain("republished");
    expect((await batchRecord(pipeline, request.batchId))?.status).toBe("COMPLETED");
  });

  it("republishes a completed batch's stored result with zero model calls", async () => {
    pipeline = await startPipeline();
    pipeline.startWorker();
    const request = makeRequest(6);
    await pipeline.send(request);
    const [first] = await pipeline.results(1);
    const callsAfterFirst = pipeline.emulator.stats().calls;
    await pipeline.send(request);
    const [again] = await pipeline.results(1);
    expect(again).toEqual(first);
    expect(pipeline.emulator.stats().calls).toBe(callsAfterFirst);
  });

  it("dead-letters the same batchId with a different payload with reason BATCH_ID_CONFLICT", async () => {
    pipeline = await startPipeline();
    pipeline.startWorker();
    const request = makeRequest(3);
    await pipeline.send(request);
    await pipeline.results(1);
    const changed = { ...request, items: request.items.map((it) => ({ ...it, text: `${it.text} (edited)` })) };
    await pipeline.send(changed);
    const [dead] = await pipeline.drain(pipeline.queues.dlq, 1);
    expect(dead?.MessageAttributes?.[DLQ_ATTRIBUTES.code]?.StringValue).toBe("BATCH_ID_CONFLICT");
    expect(dead?.MessageAttributes?.[DLQ_ATTRIBUTES.reason]?.StringValue).toMatch(/already used for a different payload/);
    // Dead-lettered and deleted without a result: nothing is on the results queue.
    expect(await pipeline.messagesOn(pipeline.queues.requests)).toBe(0);
    expect(await pipeline.messagesOn(pipeline.queues.results)).toBe(0);
  });

  it("treats a payload with the same content in another key order as the same batch", async () => {
    pipeline = await startPipeline();
    pipeline.startWorker();
    const request = makeRequest(2, { attributes: { a: "1", b: "2" } });
    await pipeline.send(request);
    await pipeline.results(1);
    const reordered = JSON.stringify({ items: request.items, batchId: request.batchId, attributes: { b: "2", a: "1" }, schemaVersion: 1 });
    await pipeline.send(reordered);
    const [again] = await pipeline.results(1);
    expect(again?.batchId).toBe(request.batchId);
    expect(await pipeline.messagesOn(pipeline.queues.dlq)).toBe(0);
  });
});

describe("the label cache", () => {
  it("serves texts labelled before from the cache: source cache, zero model calls, cacheHits counted", async () => {
    pipeline = await startPipeline();
    pipeline.startWorker();
    const first = makeRequest(8);
    await pipeline.send(first);
    const [cold] = await pipeline.results(1);
    const calls = pipeline.emulator.stats().calls;
    const second = { ...makeRequest(8), items: first.items };
    await pipeline.send(second);
    const [warm] = await pipeline.results(1);
    expect(warm?.usage.cacheHits).toBe(8);
    expect(warm?.usage.modelCalls).toBe(0);
    expect(warm?.items.every((i) => i.source === "cache")).toBe(true);
    expect(warm?.items.map((i) => i.labels)).toEqual(cold?.items.map((i) => i.labels));
    expect(pipeline.emulator.stats().calls).toBe(calls);
  });

  it("caches only validated labels", async () => {
    pipeline = await startPipeline({ emulator: { faults: [{ kind: "invalid-labels" }] }, env: { LABELQ_MAX_REASK_ROUNDS: "0" } });
    pipeline.startWorker();
    const request = makeRequest(10);
    await pipeline.send(request);
    const [result] = await pipeline.results(1);
    const good = result?.items.filter((i) => i.labels !== null).length ?? 0;
    expect(good).toBeLessThan(10);
    const doc = DynamoDBDocumentClient.from(pipeline.dynamo);
    const scan = await doc.send(new ScanCommand({ TableName: pipeline.tables.cacheTable }));
    expect(scan.Items).toHaveLength(good);
  });

  it("bypasses the cache when the request says so, and refreshes it on refresh", async () => {
    pipeline = await startPipeline();
    pipeline.startWorker();
    const first = makeRequest(4);
    await pipeline.send(first);
    await pipeline.results(1);
    await pipeline.send({ ...makeRequest(4), items: first.items, cache: "bypass" });
    const [bypassed] = await pipeline.results(1);
    expect(bypassed?.usage.cacheHits).toBe(0);
    expect(bypassed?.usage.modelCalls).toBe(1);
    await pipeline.send({ ...makeRequest(4), items: first.items, cache: "refresh" });
    const [refreshed] = await pipeline.results(1);
    expect(refreshed?.usage.cacheHits).toBe(0);
    expect(refreshed?.items.every((i) => i.source === "model")).toBe(true);
  });

  it("keeps labelling when DynamoDB is down: no cache, no guard, nothing lost", async () => {
    pipeline = await startPipeline();
    // A port nothing listens on: every cache and batch-record call fails fast.
    pipeline.startWorker({ AWS_ENDPOINT_URL_DYNAMODB: "http://127.0.0.1:9" });
    const request = makeRequest(5);
    await pipeline.send(request);
    const [result] = await pipeline.results(1);
    expect(result?.status).toBe("completed");
    expect(result?.usage.cacheHits).toBe(0);
  });
});
