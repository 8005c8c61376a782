import net from "node:net";
import { afterEach, describe, expect } from "vitest";
import { it } from "../support/fixtures.ts";
import { makeRequest } from "../support/pipeline.ts";

let blocker: net.Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  blocker = undefined;
});

describe("labelq worker", () => {
  it("exits 1 naming LABELQ_HTTP_PORT, without taking a message, when its probe port is taken", async ({ pipeline, workerProcess }) => {
    const p = await pipeline();
    await p.send(makeRequest(2));
    blocker = net.createServer();
    await new Promise<void>((resolve) => blocker?.listen(0, "0.0.0.0", resolve));
    const port = (blocker.address() as net.AddressInfo).port;

    const worker = workerProcess({ ...p.env, LABELQ_HTTP_PORT: String(port) });
    expect(await worker.exited, worker.stderr()).toBe(1);
    expect(worker.stderr()).toContain(`CONFIG_INVALID: invalid configuration: LABELQ_HTTP_PORT=${port}: the health server cannot listen (EADDRINUSE)`);
    // The request was never received: it is still on the queue, first delivery pending.
    const [left] = await p.drain(p.queues.requests, 1);
    expect(left?.Attributes?.ApproximateReceiveCount).toBe("1");
    expect(p.emulator.stats().calls).toBe(0);
  });
});
