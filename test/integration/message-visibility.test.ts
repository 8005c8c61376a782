import { CreateQueueCommand, DeleteQueueCommand, type Message, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { createAwsClients } from "../../src/adapters/aws-clients.ts";
import { loadConfig } from "../../src/core/config/config.ts";
import type { MessageOutcome } from "../../src/app/worker/message-handler.ts";
import { createWorker, type Worker } from "../../src/app/worker/worker.ts";
import { makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";
import { until } from "../support/until.ts";

const HEARTBEAT_S = 1;
const VISIBILITY_S = 10;
/** Longer than a heartbeat interval: a renewal is always on the wire when the handler sets its final value. */
const SLOW_CHANGE_MS = 1_500;

/**
 * An SQS endpoint in front of the real one whose ChangeMessageVisibility answers are slow, as on
 * a congested network: the order in which visibility changes land is then the order they were sent.
 */
async function slowVisibilityChanges(upstream: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const target = String(req.headers["x-amz-target"] ?? "");
        if (target.endsWith(".ChangeMessageVisibility")) await sleep(SLOW_CHANGE_MS);
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k, v]) => typeof v === "string" && !["host", "connection", "content-length"].includes(k))) as Record<string, string>;
        const answer = await fetch(new URL(req.url ?? "/", upstream), { method: req.method, headers, body: chunks.length > 0 ? Buffer.concat(chunks) : undefined });
        res.writeHead(answer.status, Object.fromEntries(answer.headers));
        res.end(Buffer.from(await answer.arrayBuffer()));
      })().catch((error: unknown) => res.destroy(error as Error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let pipeline: Pipeline | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
  await pipeline?.close();
  pipeline = undefined;
});

/** Starts a worker with this file's visibility and renewal settings (plus `env`); returns the outcomes it reports, as they come. */
function startWorker(p: Pipeline, env: Record<string, string>): MessageOutcome[] {
  const config = loadConfig({ ...p.env, LABELQ_HEARTBEAT_S: String(HEARTBEAT_S), LABELQ_VISIBILITY_TIMEOUT_S: String(VISIBILITY_S), ...env });
  const clients = createAwsClients(config);
  const worker: Worker = createWorker(config, clients, p.logger);
  cleanups.push(() => Promise.resolve(clients.destroy()));
  cleanups.push(() => worker.close());
  const outcomes: MessageOutcome[] = [];
  worker.pool.on("outcome", (_m, outcome) => outcomes.push(outcome));
  worker.pool.start();
  return outcomes;
}

describe("one owner for a message's visibility", () => {
  it("keeps a batch that runs past several visibility timeouts hidden: the handler renews it, and nobody else takes it", async () => {
    // One model call longer than the visibility timeout: without renewal the message would show again mid-call.
    pipeline = await startPipeline({ emulator: { latency: { fixedMs: (VISIBILITY_S + 3) * 1000, perOutputTokenMs: 0 } }, env: { LABELQ_CACHE_TABLE: "off" } });
    const outcomes = startWorker(pipeline, { LABELQ_CONCURRENCY: "2" });

    await pipeline.send(makeRequest(3));
    expect(await pipeline.results(1)).toHaveLength(1);
    // A second delivery while the first ran would have been deferred (the lease is held).
    expect(outcomes).toEqual(["published"]);
    expect(pipeline.emulator.stats().calls).toBe(1);
  });

  it("keeps a quota hold in place over several heartbeat intervals: no visibility renewal lands after it", async () => {
    // Every model's daily quota is spent: the first call is refused and the batch is held until the reset.
    pipeline = await startPipeline({ emulator: { quota: { tpd: 1 } }, env: { LABELQ_FALLBACK_MODELS: "none", LABELQ_CACHE_TABLE: "off" } });
    const proxy = await slowVisibilityChanges(pipeline.config.endpoints.sqs!);
    cleanups.push(proxy.close);
    const outcomes = startWorker(pipeline, { AWS_ENDPOINT_URL_SQS: proxy.url, LABELQ_CONCURRENCY: "1" });

    await pipeline.send(makeRequest(3));
    await until(() => outcomes.includes("quota-hold"), { what: "the batch held for the daily quota" });

    // A clock made of SQS itself: a message hidden for longer than a renewal's visibility (and its
    // slow answer) comes back only once a renewal landing after the hold would have let the request show.
    const { QueueUrl: clockQueue } = await pipeline.sqs.send(new CreateQueueCommand({ QueueName: `lq-clock-${randomUUID().slice(0, 8)}` }));
    cleanups.push(() => pipeline!.sqs.send(new DeleteQueueCommand({ QueueUrl: clockQueue })));
    await pipeline.sqs.send(new SendMessageCommand({ QueueUrl: clockQueue, MessageBody: "tick" }));
    const receive = async (queueUrl: string, visibilityS?: number): Promise<Message[]> =>
      (await pipeline!.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0, VisibilityTimeout: visibilityS }))).Messages ?? [];
    await until(async () => (await receive(clockQueue!, VISIBILITY_S + 3)).length === 1, { what: "the clock message" });
    await until(async () => (await receive(clockQueue!, VISIBILITY_S + 3)).length === 1, { what: `the clock message to come back after ${VISIBILITY_S + 3} s` });

    // The request is still hidden by the hold, and the worker took it only once.
    expect(await receive(pipeline.queues.requests)).toEqual([]);
    expect(outcomes).toEqual(["quota-hold"]);
  });
});
