import { afterEach, describe, expect, it } from "vitest";
import { makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";
import { until } from "../support/until.ts";

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});


describe("stopping a worker while a batch is in flight loses nothing", () => {
  it("lets an in-flight batch finish within the shutdown deadline and publishes its result", async () => {
    pipeline = await startPipeline({ emulator: { latency: { fixedMs: 1_500, perOutputTokenMs: 0 } } });
    const worker = pipeline.startWorker({ LABELQ_SHUTDOWN_TIMEOUT_S: "20" });
    const request = makeRequest(5);
    await pipeline.send(request);
    await until(() => worker.pool.inFlight() === 1);
    await worker.close();
    expect(worker.pool.inFlight()).toBe(0);
    const [result] = await pipeline.results(1, 5_000);
    expect(result?.batchId).toBe(request.batchId);
    expect(await pipeline.drain(pipeline.queues.requests, 1, 1_500)).toHaveLength(0);
  });

  it("returns a batch that outlives the deadline to the queue at once, and another worker finishes it", async () => {
    pipeline = await startPipeline({ emulator: { latency: { fixedMs: 5_000, perOutputTokenMs: 0 } } });
    const first = pipeline.startWorker({ LABELQ_SHUTDOWN_TIMEOUT_S: "0" });
    const request = makeRequest(5);
    await pipeline.send(request);
    await until(() => first.pool.inFlight() === 1);
    const outcomes: string[] = [];
    first.pool.on("outcome", (_m, outcome) => outcomes.push(outcome));
    await first.close();
    // A long poll still open during shutdown may pick the returned message up again: it is returned again.
    expect(outcomes.length).toBeGreaterThanOrEqual(1);
    expect(outcomes.every((o) => o === "returned")).toBe(true);

    // Visibility was set to 0: the message is back now, not after the 30 s visibility timeout.
    pipeline.emulator.setLatency({ fixedMs: 0, perOutputTokenMs: 0 });
    const second = pipeline.startWorker();
    const started = Date.now();
    const [result] = await pipeline.results(1, 15_000);
    expect(result?.batchId).toBe(request.batchId);
    expect(result?.status).toBe("completed");
    expect(Date.now() - started).toBeLessThan(25_000);
    await second.close();
  });

  it("stops polling at once when idle", async () => {
    pipeline = await startPipeline();
    const worker = pipeline.startWorker();
    await worker.close();
    await pipeline.send(makeRequest(2));
    // No worker is polling any more: the message stays on the queue.
    const left = await pipeline.drain(pipeline.queues.requests, 1, 3_000);
    expect(left).toHaveLength(1);
    expect(pipeline.emulator.stats().calls).toBe(0);
  });
});
