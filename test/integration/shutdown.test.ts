import { describe, expect } from "vitest";
import { queueDepths } from "../../src/app/ops/status.ts";
import { it } from "../support/fixtures.ts";
import { makeRequest } from "../support/pipeline.ts";
import { until } from "../support/until.ts";

describe("stopping a worker while a batch is in flight loses nothing", () => {
  it("lets an in-flight batch finish within the shutdown deadline and publishes its result", async ({ pipeline }) => {
    const p = await pipeline({ emulator: { latency: { fixedMs: 1_500, perOutputTokenMs: 0 } } });
    const worker = p.startWorker({ LABELQ_SHUTDOWN_TIMEOUT_S: "20" });
    const request = makeRequest(5);
    await p.send(request);
    await until(() => worker.pool.inFlight() === 1);
    await worker.close();
    expect(worker.pool.inFlight()).toBe(0);
    // Published before close() returned, and the request deleted: nothing is left to wait for.
    expect(await p.messagesOn(p.queues.requests)).toBe(0);
    const [result] = await p.results(1);
    expect(result?.batchId).toBe(request.batchId);
  });

  it("returns a batch that outlives the deadline to the queue at once, and another worker finishes it", async ({ pipeline }) => {
    const p = await pipeline({ emulator: { latency: { fixedMs: 5_000, perOutputTokenMs: 0 } } });
    const first = p.startWorker({ LABELQ_SHUTDOWN_TIMEOUT_S: "0" });
    const request = makeRequest(5);
    await p.send(request);
    await until(() => first.pool.inFlight() === 1);
    const outcomes: string[] = [];
    first.pool.on("outcome", (_m, outcome) => outcomes.push(outcome));
    await first.close();
    // A long poll still open during shutdown may pick the returned message up again: it is returned again.
    expect(outcomes.length).toBeGreaterThanOrEqual(1);
    expect(outcomes.every((o) => o === "returned")).toBe(true);
    // Visibility was set to 0: the message is visible now, not after the 30 s visibility timeout.
    const [depth] = await queueDepths(p.sqs, { requests: p.queues.requests });
    expect(depth).toMatchObject({ visible: 1, inFlight: 0 });

    p.emulator.setLatency({ fixedMs: 0, perOutputTokenMs: 0 });
    const second = p.startWorker();
    const [result] = await p.results(1);
    expect(result?.batchId).toBe(request.batchId);
    expect(result?.status).toBe("completed");
    await second.close();
  });

  it("stops polling at once when idle", async ({ pipeline }) => {
    const p = await pipeline();
    const worker = p.startWorker();
    await worker.close();
    await p.send(makeRequest(2));
    // No worker is polling any more: the message stays on the queue.
    const left = await p.drain(p.queues.requests, 1);
    expect(left).toHaveLength(1);
    expect(left[0]?.Attributes?.ApproximateReceiveCount).toBe("1");
    expect(p.emulator.stats().calls).toBe(0);
  });
});
