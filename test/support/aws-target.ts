import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { AddressInfo } from "node:net";
import dynalite from "dynalite";
import { startFauxqs } from "fauxqs";

/** Where the integration tests' SQS and DynamoDB live, chosen once per run. */
export interface AwsTarget {
  kind: "endpoint" | "localstack" | "embedded";
  region: string;
  endpoints: { sqs: string; dynamodb: string };
  description: string;
}

/**
 * Pick the integration target in one place:
 *  1. AWS_ENDPOINT_URL (or the per-service variables) set: that endpoint (AWS, LocalStack, ...);
 *  2. a Docker engine answers: LocalStack through testcontainers;
 *  3. otherwise the embedded stack (fauxqs + dynalite), in this process.
 * The Bedrock emulator always runs in the test process: no free service emulates Bedrock.
 */
export async function startAwsTarget(env: Record<string, string | undefined>): Promise<{ target: AwsTarget; stop: () => Promise<void> }> {
  const region = env.AWS_REGION ?? "us-east-1";
  const sqs = env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL;
  const dynamodb = env.AWS_ENDPOINT_URL_DYNAMODB ?? env.AWS_ENDPOINT_URL;
  if (sqs && dynamodb) {
    return { target: { kind: "endpoint", region, endpoints: { sqs, dynamodb }, description: `endpoint ${sqs}` }, stop: async () => {} };
  }

  const localstack = await tryLocalStack();
  if (localstack) {
    return {
      target: { kind: "localstack", region, endpoints: { sqs: localstack.url, dynamodb: localstack.url }, description: `LocalStack ${localstack.url}` },
      stop: localstack.stop,
    };
  }

  const fauxqs = await startFauxqs({ port: 0, logger: false, defaultRegion: region });
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => dynamo.listen(0, "127.0.0.1", () => resolve()));
  const endpoints = { sqs: `http://127.0.0.1:${fauxqs.port}`, dynamodb: `http://127.0.0.1:${(dynamo.address() as AddressInfo).port}` };
  return {
    target: { kind: "embedded", region, endpoints, description: "embedded stack (fauxqs + dynalite)" },
    stop: async () => {
      await new Promise<void>((resolve) => dynamo.close(() => resolve()));
      await fauxqs.stop();
    },
  };
}

async function tryLocalStack(): Promise<{ url: string; stop: () => Promise<void> } | undefined> {
  const { getContainerRuntimeClient, GenericContainer, Wait } = await import("testcontainers");
  try {
    await getContainerRuntimeClient();
  } catch {
    // "Could not find a working container runtime strategy": no Docker engine here.
    return undefined;
  }
  // Later images need an auth token; 4.14.0 is the last free one with SQS + DynamoDB.
  const container = await new GenericContainer("localstack/localstack:4.14.0")
    .withEnvironment({ SERVICES: "sqs,dynamodb", SQS_ENDPOINT_STRATEGY: "path" })
    .withExposedPorts(4566)
    .withWaitStrategy(Wait.forHttp("/_localstack/health", 4566))
    .start();
  return { url: `http://${container.getHost()}:${container.getMappedPort(4566)}`, stop: async () => void (await container.stop()) };
}

/** Clients for the target, with dummy credentials unless real ones are configured. */
export function targetClients(target: AwsTarget, env: Record<string, string | undefined>) {
  const credentials = env.AWS_ACCESS_KEY_ID ? undefined : { accessKeyId: "test", secretAccessKey: "test" };
  return {
    sqs: new SQSClient({ region: target.region, endpoint: target.endpoints.sqs, credentials, useQueueUrlAsEndpoint: false }),
    dynamo: new DynamoDBClient({ region: target.region, endpoint: target.endpoints.dynamodb, credentials }),
  };
}
