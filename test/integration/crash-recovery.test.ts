import { DynamoDBDocumentClient, GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { describe, expect } from "vitest";
import { it } from "../support/fixtures.ts";
import { makeRequest } from "../support/pipeline.ts";
import { until } from "../support/until.ts";


describe("a worker killed with SIGKILL in the middle of a batch", () => {
  it("leaves a lease that expires; another worker finishes the batch once, without re-sending cached texts", async ({ pipeline, workerProcess }) => {
    const p = await pipeline({
      emulator: { latency: { fixedMs: 300, perOutputTokenMs: 0 } },
      env: {
        LABELQ_CHUNK_SIZE: "5",
        LABELQ_LIMITER_MAX_CONCURRENT: "1",
        LABELQ_VISIBILITY_TIMEOUT_S: "10",
        LABELQ_HEARTBEAT_S: "2",
        LABELQ_CONCURRENCY: "1",
      },
    });
    const worker = workerProcess(p.env, { logLevel: "warn" });
    const request = makeRequest(20);
    await p.send(request);

    // Two of the four chunks answered: kill the worker without warning.
    await until(() => p.emulator.stats().succeeded >= 2);
    worker.child.kill("SIGKILL");
    expect(await worker.exited).toBeNull();
    const callsBeforeCrash = p.emulator.stats().calls;

    const doc = DynamoDBDocumentClient.from(p.dynamo);
    const cached = (await doc.send(new ScanCommand({ TableName: p.tables.cacheTable }))).Items?.length ?? 0;
    // At least the first chunk was written (the second may have died between answer and write).
    expect(cached, worker.stderr()).toBeGreaterThanOrEqual(5);
    expect(cached).toBeLessThan(20);
    const record = (await doc.send(new GetCommand({ TableName: p.tables.batchesTable, Key: { batchId: request.batchId }, ConsistentRead: true }))).Item;
    expect(record?.status).toBe("IN_PROGRESS");

    // The next delivery (after the visibility timeout) finds the lease expired and takes over.
    const second = p.startWorker();
    const [result] = await p.results(1);
    expect(result?.batchId).toBe(request.batchId);
    expect(result?.status).toBe("completed");
    expect(result?.items.map((i) => i.id)).toEqual(request.items.map((i) => i.id));
    expect(result?.usage.cacheHits).toBe(cached);
    const callsAfterCrash = p.emulator.stats().calls - callsBeforeCrash;
    expect(callsAfterCrash).toBe(Math.ceil((20 - cached) / 5));
    expect(result?.usage.modelCalls).toBe(callsAfterCrash);

    const done = (await doc.send(new GetCommand({ TableName: p.tables.batchesTable, Key: { batchId: request.batchId }, ConsistentRead: true }))).Item;
    expect(done?.status).toBe("COMPLETED");
    // Exactly one result: once the second worker has stopped, nothing is left anywhere.
    await second.close();
    expect(await p.messagesOn(p.queues.results)).toBe(0);
    expect(await p.messagesOn(p.queues.requests)).toBe(0);
  });
});
