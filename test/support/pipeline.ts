import {
  DeleteMessageCommand,
  DeleteQueueCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { DeleteTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { randomUUID } from "node:crypto";
import pino, { type Logger } from "pino";
import { inject } from "vitest";
import { createAwsClients, type AwsClients } from "../../src/adapters/aws-clients.ts";
import { loadConfig, type Config } from "../../src/core/config/config.ts";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { type LabelResult, resultSchema } from "../../src/core/contracts/result.ts";
import { type BedrockEmulator, type BedrockEmulatorOptions, startBedrockEmulator } from "@labelq/bedrock-emulator";
import { queueDepths } from "../../src/app/ops/status.ts";
import { createQueues, type QueueSet } from "../../src/adapters/sqs/create-queues.ts";
import { createTables } from "../../src/adapters/dynamodb/create-tables.ts";
import { toSqsJson } from "../../src/adapters/sqs/sqs-json.ts";
import { fifoFields } from "../../src/adapters/sqs/sqs-messages.ts";
import { createWorker, type Worker } from "../../src/app/worker/worker.ts";
import { targetClients } from "./aws-target.ts";
import { until } from "./until.ts";

/** What a pipeline is started with. */
export interface PipelineOptions {
  emulator?: Omit<BedrockEmulatorOptions, "port">;
  env?: Record<string, string>;
  maxReceiveCount?: number;
  fifo?: boolean;
  logger?: Logger;
}

export interface Pipeline {
  config: Config;
  /** The environment the worker's config was loaded from, e.g. for a worker in a child process. */
  env: Record<string, string>;
  queues: QueueSet;
  tables: { cacheTable: string; batchesTable: string };
  /** A DynamoDB client of the test's own, to inspect tables. */
  dynamo: DynamoDBClient;
  emulator: BedrockEmulator;
  clients: AwsClients;
  /** A client of the test's own, as a producer in another process would have. */
  sqs: SQSClient;
  logger: Logger;
  startWorker(overrides?: Record<string, string>): Worker;
  send(body: LabelRequest | string): Promise<void>;
  /**
   * Receive until `count` messages arrived on the queue (deleting them). Without `windowMs` it
   * waits until they have, however busy the machine (until's safety net names what never came);
   * with it, it returns what came within the window: to show that nothing (more) arrives.
   */
  drain(queueUrl: string, count: number, windowMs?: number): Promise<Message[]>;
  /** The next `count` results, parsed; `windowMs` as for drain. */
  results(count: number, windowMs?: number): Promise<LabelResult[]>;
  /** Messages on a queue, visible, in flight or delayed: 0 says, without waiting, that nothing is there. */
  messagesOn(queueUrl: string): Promise<number>;
  close(): Promise<void>;
}

/** A request of `n` texts from a small fixed pool, with ids `<prefix>-1..n`. */
export function makeRequest(n: number, overrides: Partial<LabelRequest> = {}): LabelRequest {
  const pool = [
    "Love the colour, battery died in a week",
    "Terrible delivery, box crushed and the kettle leaks.",
    "Great, another charger that lasts a whole week. Genius.",
    "Does the backpack fit a 16 inch laptop?",
    "Super Qualität, sehr zufrieden mit dem Kauf!",
    "Customer service replaced my broken blender in two days, thank you",
    "FREE GIFT CARDS click here now crypto bonus",
    "The sofa looks great but the fabric pills after a month",
  ];
  return {
    schemaVersion: 1,
    batchId: `b-${randomUUID()}`,
    items: Array.from({ length: n }, (_, k) => ({ id: `t-${k + 1}`, text: `${pool[k % pool.length]} (#${k + 1})` })),
    ...overrides,
  };
}

/**
 * A labelq worker wired to the integration target (fresh queues with random names) and to a
 * Bedrock emulator (test double) of the test's own.
 */
export async function startPipeline(options: PipelineOptions = {}): Promise<Pipeline> {
  const target = inject("awsTarget");
  const { sqs, dynamo } = targetClients(target, process.env);
  const queues = await createQueues(sqs, { prefix: `lq-${randomUUID().slice(0, 8)}`, maxReceiveCount: options.maxReceiveCount ?? 5, visibilityTimeoutS: 30, fifo: options.fifo });
  const emulator = await startBedrockEmulator({ ...options.emulator, port: 0 });
  const tables = { cacheTable: `lq-cache-${randomUUID().slice(0, 8)}`, batchesTable: `lq-batches-${randomUUID().slice(0, 8)}` };
  await createTables(dynamo, tables);
  process.env.AWS_ACCESS_KEY_ID ??= "test";
  process.env.AWS_SECRET_ACCESS_KEY ??= "test";
  const env = {
    AWS_REGION: target.region,
    AWS_ENDPOINT_URL_SQS: target.endpoints.sqs,
    AWS_ENDPOINT_URL_DYNAMODB: target.endpoints.dynamodb,
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: emulator.url,
    LABELQ_REQUESTS_QUEUE_URL: queues.requests,
    LABELQ_RESULTS_QUEUE_URL: queues.results,
    LABELQ_DLQ_URL: queues.dlq,
    LABELQ_CACHE_TABLE: tables.cacheTable,
    LABELQ_BATCHES_TABLE: tables.batchesTable,
    LABELQ_CONCURRENCY: "4",
    LABELQ_WAIT_TIME_S: "1",
    LABELQ_VISIBILITY_TIMEOUT_S: "30",
    LABELQ_HEARTBEAT_S: "10",
    LABELQ_RETRY_BASE_DELAY_S: "1",
    LABELQ_SHUTDOWN_TIMEOUT_S: "10",
    LOG_LEVEL: "silent",
    ...options.env,
  };
  const config = loadConfig(env);
  const clients = createAwsClients(config);
  const logger = options.logger ?? pino({ level: process.env.LABELQ_TEST_LOG ?? "silent" }, pino.destination(2));
  const workers: Worker[] = [];

  const receiveOnce = async (queueUrl: string): Promise<Message[]> => {
    const res = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: ["All"], MessageSystemAttributeNames: ["All"] }),
    );
    for (const m of res.Messages ?? []) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    return res.Messages ?? [];
  };

  const drain = async (queueUrl: string, count: number, windowMs?: number): Promise<Message[]> => {
    const out: Message[] = [];
    if (windowMs === undefined) {
      const arrived = async () => {
        out.push(...(await receiveOnce(queueUrl)));
        return out.length >= count;
      };
      await until(arrived, { what: `${count} message(s) on ${queueUrl}`, every: 0 });
      return out;
    }
    const deadline = performance.now() + windowMs;
    while (out.length < count && performance.now() < deadline) out.push(...(await receiveOnce(queueUrl)));
    return out;
  };

  return {
    config,
    env,
    queues,
    tables,
    dynamo,
    emulator,
    clients,
    sqs,
    logger,
    startWorker(overrides = {}) {
      const c = Object.keys(overrides).length > 0 ? loadConfig({ ...env, ...overrides }) : config;
      const worker = createWorker(c, clients, logger);
      worker.pool.start();
      workers.push(worker);
      return worker;
    },
    async send(body) {
      const text = typeof body === "string" ? body : toSqsJson(body);
      await sqs.send(new SendMessageCommand({ QueueUrl: queues.requests, MessageBody: text, ...fifoFields(queues.requests, "producer-1", text) }));
    },
    drain,
    async results(count, windowMs) {
      const messages = await drain(queues.results, count, windowMs);
      return messages.map((m) => resultSchema.parse(JSON.parse(m.Body ?? "")));
    },
    async messagesOn(queueUrl) {
      const [depth] = await queueDepths(sqs, { queue: queueUrl });
      if (!depth || depth.error) throw new Error(`could not read the depth of ${queueUrl}: ${depth?.error}`);
      return depth.visible + depth.inFlight + depth.delayed;
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      clients.destroy();
      for (const url of [queues.requests, queues.results, queues.dlq]) {
        try {
          await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
        } catch {
          // Already gone or the target is down: nothing left to clean.
        }
      }
      for (const table of [tables.cacheTable, tables.batchesTable]) {
        try {
          await dynamo.send(new DeleteTableCommand({ TableName: table }));
        } catch {
          // Already gone or the target is down.
        }
      }
      sqs.destroy();
      dynamo.destroy();
      await emulator.close();
    },
  };
}

/** Count the calls each Region's Bedrock client sends: every attempt, the SDK's retries included (the deserialize step runs once per attempt). */
export function countCallsByRegion(p: Pipeline, regions: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(regions.map((r) => [r, 0]));
  for (const region of regions) {
    p.clients.bedrockIn(region).middlewareStack.add(
      (next) => (args) => {
        counts[region] = (counts[region] ?? 0) + 1;
        return next(args);
      },
      { step: "deserialize", name: `count-${region}` },
    );
  }
  return counts;
}
