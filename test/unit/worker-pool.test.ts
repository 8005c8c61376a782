import { ChangeMessageVisibilityCommand, DeleteMessageCommand, type Message, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { setImmediate, setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Handled, MessageHandler } from "../../src/app/worker/message-handler.ts";
import { pollBackoffMs, WorkerPool, type WorkerPoolOptions } from "../../src/app/worker/worker-pool.ts";
import { silentLogger } from "../support/fakes.ts";
import { until } from "../support/until.ts";

const options: WorkerPoolOptions = {
  queueUrl: "http://sqs.local/000/requests",
  concurrency: 2,
  visibilityTimeoutS: 30,
  waitTimeS: 0,
  shutdownTimeoutS: 30,
  useClientEndpoint: true,
};

// The SQS client is the seam between sqs-consumer and the queue: an in-memory queue behind it.
const sqsMock = mockClient(SQSClient);
const sqs = new SQSClient({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
let queue: Message[];
let pools: WorkerPool[];

beforeEach(() => {
  queue = [];
  pools = [];
  sqsMock.reset();
  sqsMock.on(ReceiveMessageCommand).callsFake(async () => {
    const next = queue.shift();
    if (next) return { Messages: [next] };
    // An empty long poll, shortened: the consumer polls again when it returns.
    await sleep(10);
    return {};
  });
  sqsMock.on(DeleteMessageCommand).resolves({});
  sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
});

afterEach(async () => {
  await Promise.all(pools.map((p) => p.stop()));
});

function pool(handler: MessageHandler, overrides: Partial<WorkerPoolOptions> = {}): WorkerPool {
  const p = new WorkerPool({ ...options, ...overrides }, sqs, handler, silentLogger());
  pools.push(p);
  return p;
}

function enqueue(id: string): void {
  queue.push({ MessageId: id, ReceiptHandle: `rh-${id}`, Body: "{}", Attributes: { ApproximateReceiveCount: "1" } });
}

const published: Handled = { ack: true, outcome: "published" };

describe("WorkerPool lifecycle", () => {
  it("stops at once when it was never started, and says so", async () => {
    const p = pool(() => Promise.resolve(published));
    let stopped = false;
    p.on("stopped", () => (stopped = true));
    await p.stop();
    expect(stopped).toBe(true);
    expect(sqsMock.commandCalls(ReceiveMessageCommand)).toHaveLength(0);
  });

  it("makes every stop() call wait for the same drain", async () => {
    const gate = Promise.withResolvers<void>();
    let finished = false;
    const p = pool(async () => {
      await gate.promise;
      finished = true;
      return published;
    });
    p.start();
    enqueue("m-1");
    await until(() => p.inFlight() === 1);
    const first = p.stop();
    const second = p.stop();
    expect(second).toBe(first);
    // Still draining: the second call must not have settled while the batch runs.
    expect(await Promise.race([second.then(() => "stopped"), setImmediate("draining")])).toBe("draining");
    gate.resolve();
    await second;
    expect(finished).toBe(true);
    expect(p.inFlight()).toBe(0);
    expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(1);
  });

  it("aborts in-flight work when the shutdown deadline passes, and returns once it has ended", async () => {
    let sawAbort = false;
    const p = pool(
      (_message, signal) =>
        new Promise<Handled>((resolve) => {
          signal.addEventListener("abort", () => {
            sawAbort = true;
            resolve({ ack: false, outcome: "returned" });
          });
        }),
      { shutdownTimeoutS: 0 },
    );
    const outcomes: string[] = [];
    p.on("outcome", (_m, outcome) => outcomes.push(outcome));
    p.start();
    enqueue("m-1");
    await until(() => p.inFlight() === 1);
    await p.stop();
    expect(sawAbort).toBe(true);
    expect(outcomes).toEqual(["returned"]);
    expect(sqsMock.commandCalls(DeleteMessageCommand)).toHaveLength(0);
  });

  it("polls with each consumer once however often start() is called, and not again after stop()", async () => {
    const p = pool(() => Promise.resolve(published), { concurrency: 1 });
    p.start();
    p.start();
    enqueue("m-1");
    await until(() => sqsMock.commandCalls(DeleteMessageCommand).length === 1);
    await p.stop();
    p.start();
    const polls = sqsMock.commandCalls(ReceiveMessageCommand).length;
    enqueue("m-2");
    await setImmediate();
    expect(sqsMock.commandCalls(ReceiveMessageCommand)).toHaveLength(polls);
    expect(queue).toHaveLength(1);
  });
});

describe("pollBackoffMs", () => {
  it("doubles from 1 s per failed poll in a row, within ±20 %, and stops growing at 60 s", () => {
    expect([1, 2, 3, 4].map((n) => pollBackoffMs(n, () => 0.5))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(pollBackoffMs(1, () => 0)).toBe(800);
    expect(pollBackoffMs(1, () => 1)).toBe(1_200);
    expect(pollBackoffMs(7, () => 0.5)).toBe(60_000);
    expect(pollBackoffMs(40, () => 1)).toBe(72_000);
  });
});
