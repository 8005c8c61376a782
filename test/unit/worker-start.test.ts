import { ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAwsClients } from "../../src/adapters/aws-clients.ts";
import { loadConfig } from "../../src/core/config/config.ts";
import { ConfigError } from "../../src/core/errors/errors.ts";
import { createWorker, type Worker } from "../../src/app/worker/worker.ts";
import { rejection, silentLogger } from "../support/fakes.ts";
import { until } from "../support/until.ts";

const config = loadConfig({
  LABELQ_REQUESTS_QUEUE_URL: "http://sqs.local/000/requests",
  LABELQ_RESULTS_QUEUE_URL: "http://sqs.local/000/results",
  LABELQ_DLQ_URL: "http://sqs.local/000/dlq",
  AWS_ENDPOINT_URL: "http://127.0.0.1:9",
  LABELQ_CONCURRENCY: "1",
  LABELQ_WAIT_TIME_S: "0",
  LABELQ_CACHE_TABLE: "off",
  LABELQ_BATCHES_TABLE: "off",
});

// The SQS client is the seam: every poll is seen here, none leaves the process.
const sqsMock = mockClient(SQSClient);
let polls: { httpPort: number | undefined }[];
let worker: Worker | undefined;
let blocker: net.Server | undefined;

beforeEach(() => {
  polls = [];
  sqsMock.reset();
  sqsMock.on(ReceiveMessageCommand).callsFake(async () => {
    polls.push({ httpPort: worker?.httpPort });
    await sleep(10);
    return {};
  });
});

afterEach(async () => {
  await worker?.close().catch(() => {});
  worker = undefined;
  await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  blocker = undefined;
});

function build(port: number): Worker {
  return createWorker(config, createAwsClients(config), silentLogger(), { http: { port, host: "127.0.0.1" } });
}

describe("starting a worker", () => {
  it("answers probes before it takes the first message", async () => {
    worker = build(0);
    await worker.start();
    await until(() => polls.length > 0);
    expect(polls[0]?.httpPort).toBeGreaterThan(0);
    const res = await fetch(`http://127.0.0.1:${worker.httpPort}/healthz`);
    expect(res.status).toBe(200);
  });

  it("fails with a ConfigError naming LABELQ_HTTP_PORT, and consumes nothing, when the port is taken", async () => {
    blocker = net.createServer();
    await new Promise<void>((resolve) => blocker?.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    worker = build(port);
    const error = await rejection(worker.start());
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues[0]).toBe(`LABELQ_HTTP_PORT=${port}: the health server cannot listen (EADDRINUSE); choose another port, or 0 for a free one`);
    expect(worker.pool.stopping).toBe(true);
    expect(polls).toHaveLength(0);
  });

  it("starts once however often start() is called, and closes once however often close() is called", async () => {
    worker = build(0);
    const [a, b] = [worker.start(), worker.start()];
    await Promise.all([a, b]);
    const port = worker.httpPort;
    await worker.start();
    expect(worker.httpPort).toBe(port);
    const closing = worker.close();
    expect(worker.close()).toBe(closing);
    await closing;
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});
