import { CreateQueueCommand, DeleteQueueCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import type { MessageHandler } from "../../src/app/worker/message-handler.ts";
import type { Clock } from "../../src/core/util/clock.ts";
import { WorkerPool } from "../../src/app/worker/worker-pool.ts";
import { targetClients } from "../support/aws-target.ts";
import { until } from "../support/until.ts";

/** A clock whose time moves only when the test says: every backoff wait ends at advance(). */
class StepClock implements Clock {
  #t = 0;
  #waiters: { until: number; resolve: () => void }[] = [];
  aborted = 0;
  now = (): number => this.#t;
  sleep = (ms: number, signal: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason as Error);
      const waiter = { until: this.#t + ms, resolve };
      this.#waiters.push(waiter);
      signal.addEventListener("abort", () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        this.aborted += 1;
        reject(signal.reason as Error);
      });
    });
  get waiting(): number {
    return this.#waiters.length;
  }
  /** Move time to the end of the longest wait and wake every waiter. */
  advance(): void {
    this.#t = Math.max(this.#t, ...this.#waiters.map((w) => w.until));
    const woken = this.#waiters;
    this.#waiters = [];
    for (const w of woken) w.resolve();
  }
}

/**
 * The requests queue as a worker sees it during an outage: an HTTP proxy in front of the SQS
 * target that answers every ReceiveMessage with a 500 while `down`, and forwards all else.
 */
async function flakyProxy(upstream: string) {
  const target = new URL(upstream);
  const state = { down: true, failedReceives: 0 };
  const server = http.createServer((req, res) => {
    if (state.down && req.headers["x-amz-target"] === "AmazonSQS.ReceiveMessage") {
      state.failedReceives += 1;
      req.resume();
      res.writeHead(500, { "content-type": "application/x-amz-json-1.0" });
      res.end(JSON.stringify({ __type: "com.amazonaws.sqs#InternalError", message: "We encountered an internal error. Please try again." }));
      return;
    }
    const forwarded = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forwarded.on("error", () => res.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const close = () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state, close };
}

interface LogLine {
  level: number;
  msg: string;
  err?: { stack?: string };
  [key: string]: unknown;
}

const CONCURRENCY = 3;
const awsTarget = inject("awsTarget");
const direct = targetClients(awsTarget, process.env).sqs;
let queueUrl: string;
let proxy: Awaited<ReturnType<typeof flakyProxy>>;
let lines: LogLine[];
let clock: StepClock;
let handled: string[];
let pool: WorkerPool;

beforeEach(async () => {
  queueUrl = (await direct.send(new CreateQueueCommand({ QueueName: `lq-${randomUUID().slice(0, 8)}-backoff` }))).QueueUrl!;
  proxy = await flakyProxy(awsTarget.endpoints.sqs);
  lines = [];
  clock = new StepClock();
  handled = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  // One attempt per receive: the SDK's own retries would hide the failures from the pool.
  const sqs = new SQSClient({
    region: awsTarget.region,
    endpoint: proxy.url,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    useQueueUrlAsEndpoint: false,
    maxAttempts: 1,
  });
  const handler: MessageHandler = (message) => {
    handled.push(message.Body ?? "");
    return Promise.resolve({ ack: true, outcome: "published" });
  };
  pool = new WorkerPool(
    { queueUrl, concurrency: CONCURRENCY, visibilityTimeoutS: 30, waitTimeS: 1, shutdownTimeoutS: 5, useClientEndpoint: true },
    sqs,
    handler,
    logger,
    clock,
  );
});

afterEach(async () => {
  await pool.stop();
  await proxy.close();
  await direct.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
});

const at = (level: number) => lines.filter((l) => l.level === level);
const WARN = 40;
const INFO = 30;
const DEBUG = 20;

describe("polling an unreachable requests queue", () => {
  it("backs off exponentially with one warning per step, not per consumer, and resumes when the queue answers", async () => {
    pool.start();
    const steps = 3;
    for (let step = 1; step <= steps; step++) {
      // Every consumer has failed this step's poll and now waits out the backoff.
      await until(() => clock.waiting === CONCURRENCY, { what: `all ${CONCURRENCY} consumers waiting after failed poll ${step}` });
      expect(at(WARN)).toHaveLength(step);
      if (step === steps) proxy.state.down = false;
      clock.advance();
    }
    await direct.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "after the outage" }));
    await until(() => handled.includes("after the outage"), { what: "the message handled once polling resumed" });
    // The recovery is logged when a poll's answer is processed, which sqs-consumer signals after the handler ran.
    await until(() => at(INFO).some((l) => l.msg.startsWith("polling recovered")), { what: "the recovery logged" });

    expect(proxy.state.failedReceives).toBe(steps * CONCURRENCY);
    const warns = at(WARN);
    expect(warns.map((w) => w.failures)).toEqual([1, 2, 3]);
    expect(warns.every((w) => w.queue === queueUrl && w.code === "InternalError")).toBe(true);
    const retryInS = warns.map((w) => w.retryInS as number);
    // 1 s, 2 s, 4 s, each ±20 %: the steps cannot overlap.
    expect(retryInS[0]).toBeGreaterThanOrEqual(0.8);
    expect(retryInS[1]).toBeGreaterThan(retryInS[0]!);
    expect(retryInS[2]).toBeGreaterThan(retryInS[1]!);
    expect(retryInS[2]).toBeLessThanOrEqual(4.8);
    for (const w of warns) {
      expect(w.msg).toMatch(/^polling the requests queue failed: SQS receive message failed: We encountered an internal error\. Please try again\.; retrying in [\d.]+ s$/);
      expect(JSON.stringify(w)).not.toContain("stack");
    }
    // The stack of every failed poll is there for whoever turns debug on.
    expect(at(DEBUG).filter((l) => l.err?.stack?.includes("InternalError") || l.err?.stack?.includes("SQSError"))).toHaveLength(steps * CONCURRENCY);
    expect(at(INFO).filter((l) => l.msg === "polling recovered after 3 failures")).toHaveLength(1);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  });

  it("ends the backoff wait at once when the pool stops", async () => {
    pool.start();
    await until(() => clock.waiting === CONCURRENCY, { what: `all ${CONCURRENCY} consumers waiting after a failed poll` });
    await pool.stop();
    expect(clock.aborted).toBe(CONCURRENCY);
    expect(clock.waiting).toBe(0);
    // Stopping is not a failure: still the one warning of the first step.
    expect(at(WARN)).toHaveLength(1);
  });
});
