import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";
import { killProcess, startWorkerProcess, type WorkerProcess } from "../support/worker-process.ts";

let pipeline: Pipeline | undefined;
let worker: WorkerProcess | undefined;
let blocker: net.Server | undefined;
afterEach(async () => {
  if (worker) await killProcess(worker.child);
  await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  await pipeline?.close();
  pipeline = worker = blocker = undefined;
});

describe("labelq worker", () => {
  it("exits 1 naming LABELQ_HTTP_PORT, without taking a message, when its probe port is taken", async () => {
    pipeline = await startPipeline();
    const request = makeRequest(2);
    await pipeline.send(request);
    blocker = net.createServer();
    await new Promise<void>((resolve) => blocker?.listen(0, "0.0.0.0", resolve));
    const port = (blocker.address() as net.AddressInfo).port;

    worker = startWorkerProcess({ ...pipeline.env, LABELQ_HTTP_PORT: String(port) });
    expect(await worker.exited, worker.stderr()).toBe(1);
    expect(worker.stderr()).toContain(`CONFIG_INVALID: invalid configuration: LABELQ_HTTP_PORT=${port}: the health server cannot listen (EADDRINUSE)`);
    // The request was never received: it is still on the queue, first delivery pending.
    const [left] = await pipeline.drain(pipeline.queues.requests, 1);
    expect(left?.Attributes?.ApproximateReceiveCount).toBe("1");
    expect(pipeline.emulator.stats().calls).toBe(0);
  });
});
