import { DynamoDBDocumentClient, GetCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { spawn } from "node:child_process";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";
import { until } from "../support/until.ts";
import { exited, repoRoot } from "../support/run-cli.ts";

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});


describe("a worker killed with SIGKILL in the middle of a batch", () => {
  it("leaves a lease that expires; another worker finishes the batch once, without re-sending cached texts", async () => {
    pipeline = await startPipeline({
      emulator: { latency: { fixedMs: 300, perOutputTokenMs: 0 } },
      env: {
        LABELQ_CHUNK_SIZE: "5",
        LABELQ_LIMITER_MAX_CONCURRENT: "1",
        LABELQ_VISIBILITY_TIMEOUT_S: "10",
        LABELQ_HEARTBEAT_S: "2",
        LABELQ_CONCURRENCY: "1",
      },
    });
    const p = pipeline;
    const child = spawn(process.execPath, [path.join(repoRoot, "bin", "labelq.js"), "worker"], {
      // A free port for its probes: the default (9400) may be taken by another test's labelq local.
      env: { ...process.env, ...p.env, LOG_LEVEL: "warn", LABELQ_HTTP_PORT: "0" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const request = makeRequest(20);
    await p.send(request);

    // Two of the four chunks answered: kill the worker without warning.
    await until(() => p.emulator.stats().succeeded >= 2);
    child.kill("SIGKILL");
    expect(await exited(child)).toBeNull();
    const callsBeforeCrash = p.emulator.stats().calls;

    const doc = DynamoDBDocumentClient.from(p.dynamo);
    const cached = (await doc.send(new ScanCommand({ TableName: p.tables.cacheTable }))).Items?.length ?? 0;
    // At least the first chunk was written (the second may have died between answer and write).
    expect(cached, stderr).toBeGreaterThanOrEqual(5);
    expect(cached).toBeLessThan(20);
    const record = (await doc.send(new GetCommand({ TableName: p.tables.batchesTable, Key: { batchId: request.batchId }, ConsistentRead: true }))).Item;
    expect(record?.status).toBe("IN_PROGRESS");

    // The next delivery (after the visibility timeout) finds the lease expired and takes over.
    p.startWorker();
    const [result] = await p.results(1, 40_000);
    expect(result?.batchId).toBe(request.batchId);
    expect(result?.status).toBe("completed");
    expect(result?.items.map((i) => i.id)).toEqual(request.items.map((i) => i.id));
    expect(result?.usage.cacheHits).toBe(cached);
    const callsAfterCrash = p.emulator.stats().calls - callsBeforeCrash;
    expect(callsAfterCrash).toBe(Math.ceil((20 - cached) / 5));
    expect(result?.usage.modelCalls).toBe(callsAfterCrash);

    const done = (await doc.send(new GetCommand({ TableName: p.tables.batchesTable, Key: { batchId: request.batchId }, ConsistentRead: true }))).Item;
    expect(done?.status).toBe("COMPLETED");
    // Exactly one result: nothing else arrives.
    expect(await p.drain(p.queues.results, 1, 2_000)).toHaveLength(0);
  });
});
