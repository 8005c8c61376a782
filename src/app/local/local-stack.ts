import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { AddressInfo } from "node:net";
import { buildApp } from "fauxqs";
import dynalite from "dynalite";
import { createQueues, type QueueSet } from "../../adapters/sqs/create-queues.ts";
import { createTables } from "../../adapters/dynamodb/create-tables.ts";

import { type BedrockEmulator, type BedrockEmulatorOptions, startBedrockEmulator } from "@labelq/bedrock-emulator";
import { runEveryStep } from "../../core/util/run-every-step.ts";
import { DEFAULTS } from "../../core/config/config.ts";
import { LOCAL_CREDENTIALS } from "./local-credentials.ts";

/** Table names of the embedded stack: the defaults of LABELQ_CACHE_TABLE and LABELQ_BATCHES_TABLE. */
const TABLES = DEFAULTS.tables;

/** The S3 bucket of the embedded stack for bulk (batch inference) input and output: LABELQ_BULK_BUCKET. */
export const LOCAL_BULK_BUCKET = "labelq-bulk";
/** The service role bulk jobs name (LABELQ_BULK_ROLE_ARN); the emulator checks its form, not IAM. Account 000000000000 as fauxqs's STS reports. */
export const LOCAL_BULK_ROLE_ARN = "arn:aws:iam::000000000000:role/labelq-bedrock-batch";

export interface LocalStackOptions {
  region?: string;
  /** 0 picks free ports (tests, demo); `labelq local` passes fixed ones. */
  ports?: { sqs?: number; dynamodb?: number; bedrock?: number };
  host?: string;
  queuePrefix?: string;
  maxReceiveCount?: number;
  /** Emulator settings, the model invocation jobs' (`jobs`) among them; its S3 client is the stack's own. */
  emulator?: Omit<BedrockEmulatorOptions, "port" | "host" | "s3">;
}

export interface LocalStack {
  region: string;
  /** bedrock and bedrockControl are the same emulator: Converse (runtime) and model invocation jobs (control plane). s3 is fauxqs, path-style. */
  endpoints: { sqs: string; dynamodb: string; bedrock: string; s3: string; bedrockControl: string };
  queues: QueueSet;
  tables: { cacheTable: string; batchesTable: string };
  /** The S3 bucket for bulk job input and output, created at start. */
  bulkBucket: string;
  /** The Bedrock emulator (test double): faults, quotas and call counts. */
  emulator: BedrockEmulator;
  /** Environment variables that point labelq (or any AWS SDK or CLI) at this stack. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * The embedded dev stack, in this process: SQS and S3 (fauxqs, one endpoint), DynamoDB
 * (dynalite) and the Bedrock emulator (runtime and model invocation jobs), with the labelq
 * queues, tables and bulk bucket created. Needs no Docker and no AWS account.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const region = options.region ?? "us-east-1";
  const host = options.host ?? "127.0.0.1";
  // Close steps of what has started so far, newest first; a failed start runs them before it throws.
  const started: (() => Promise<void>)[] = [];
  try {
    // fauxqs's startFauxqs() always binds 0.0.0.0; its app listens where asked, so a laptop does not expose its queues.
    const fauxqs = buildApp({ logger: false, defaultRegion: region });
    started.unshift(() => fauxqs.close());
    const sqsPort = Number(new URL(await fauxqs.listen({ port: options.ports?.sqs ?? 0, host })).port);
    const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((resolve, reject) => {
      dynamo.once("error", reject);
      dynamo.listen(options.ports?.dynamodb ?? 0, host, () => resolve());
    });
    started.unshift(() => new Promise<void>((resolve, reject) => dynamo.close((error?: Error) => (error ? reject(error) : resolve()))));
    // fauxqs serves S3 on the SQS port. Path-style: a virtual-hosted bucket needs DNS for <bucket>.127.0.0.1.
    const s3Endpoint = `http://${urlHost(host)}:${sqsPort}`;
    const s3 = new S3Client({ region, endpoint: s3Endpoint, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
    started.unshift(() => Promise.resolve(s3.destroy()));
    await s3.send(new CreateBucketCommand({ Bucket: LOCAL_BULK_BUCKET }));
    // The emulator reads job input and writes job output through this client, as Bedrock does through the job's role.
    const emulator = await startBedrockEmulator({ ...options.emulator, s3, port: options.ports?.bedrock ?? 0, host });
    started.unshift(() => emulator.close());
    const endpoints = {
      sqs: `http://${urlHost(host)}:${sqsPort}`,
      dynamodb: `http://${urlHost(host)}:${(dynamo.address() as AddressInfo).port}`,
      bedrock: emulator.url,
      s3: s3Endpoint,
      bedrockControl: emulator.url,
    };
    const sqs = new SQSClient({ region, endpoint: endpoints.sqs, credentials: LOCAL_CREDENTIALS, useQueueUrlAsEndpoint: false });
    const queues = await createQueues(sqs, { prefix: options.queuePrefix ?? "labelq", maxReceiveCount: options.maxReceiveCount }).finally(() => sqs.destroy());
    const db = new DynamoDBClient({ region, endpoint: endpoints.dynamodb, credentials: LOCAL_CREDENTIALS });
    await createTables(db, TABLES).finally(() => db.destroy());
    let closing: Promise<void> | undefined;
    return {
      region,
      endpoints,
      queues,
      tables: TABLES,
      bulkBucket: LOCAL_BULK_BUCKET,
      emulator,
      env: {
        AWS_REGION: region,
        AWS_ENDPOINT_URL_SQS: endpoints.sqs,
        AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME: endpoints.bedrock,
        // The SDK's service-specific variables (AWS_ENDPOINT_URL_<serviceId>): "Bedrock" is the control plane.
        AWS_ENDPOINT_URL_BEDROCK: endpoints.bedrockControl,
        AWS_ENDPOINT_URL_S3: endpoints.s3,
        LABELQ_BULK_BUCKET: LOCAL_BULK_BUCKET,
        LABELQ_BULK_ROLE_ARN: LOCAL_BULK_ROLE_ARN,
        LABELQ_REQUESTS_QUEUE_URL: queues.requests,
        LABELQ_RESULTS_QUEUE_URL: queues.results,
        LABELQ_DLQ_URL: queues.dlq,
        LABELQ_CACHE_TABLE: TABLES.cacheTable,
        LABELQ_BATCHES_TABLE: TABLES.batchesTable,
      },
      close() {
        closing ??= runEveryStep(started);
        return closing;
      },
    };
  } catch (error) {
    // A partial start must not leave servers listening: close what started, then report the start failure.
    await runEveryStep(started).catch(() => undefined);
    throw error;
  }
}

/** A host as it goes in a URL: IPv6 addresses in brackets. */
function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

export { LOCAL_CREDENTIALS };
