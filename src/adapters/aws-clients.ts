import { BedrockClient } from "@aws-sdk/client-bedrock";
import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import { NodeHttp2Handler } from "@smithy/node-http-handler";
import type { Config, PoolConfig } from "../core/config/config.ts";

export interface AwsClients {
  sqs: SQSClient;
  dynamo: DynamoDBDocumentClient;
  /** The plain DynamoDB client under `dynamo`, for table management. */
  dynamoBase: DynamoDBClient;
  bedrock: BedrockRuntimeClient;
  /**
   * The runtime client signing for `region` (a quota pool's): the same settings as `bedrock` and
   * the same endpoint override, one per Region, made on first use. AWS_REGION's is `bedrock`.
   */
  bedrockIn(region: string): BedrockRuntimeClient;
  /** The client a quota pool calls with: its own, signing with its role's credentials, for a pool with a roleArn; else its Region's (bedrockIn). */
  bedrockForPool(pool: { poolId: string; region: string }): BedrockRuntimeClient;
  /** S3, for the bulk path's job input and output (path-style with an endpoint override: an emulator has no DNS for virtual hosts). */
  s3: S3Client;
  /** The Bedrock control plane (model invocation jobs) for the bulk path. */
  bedrockControl: BedrockClient;
  destroy(): void;
}

/**
 * Every AWS client, created in this one place from config. Credentials come from the SDK's
 * standard chain; endpoints from config (AWS_ENDPOINT_URL*), so one build talks to AWS,
 * LocalStack or the embedded stack.
 */
export function createAwsClients(config: Pick<Config, "region" | "endpoints" | "bedrock"> & { limiter?: Pick<Config["limiter"], "pools"> }): AwsClients {
  // Clients connect lazily: the bulk path's two cost nothing where it is off.
  const s3 = new S3Client({ region: config.region, endpoint: config.endpoints.s3, forcePathStyle: config.endpoints.s3 !== undefined });
  // The bulk loop tries again on its next pass; the SDK's three attempts smooth a passing throttle.
  const bedrockControl = new BedrockClient({ region: config.region, endpoint: config.endpoints.bedrockControl, maxAttempts: 3 });
  // With an endpoint override (LocalStack, emulators) send to it, not to the host in the queue URL.
  const sqs = new SQSClient({ region: config.region, endpoint: config.endpoints.sqs, useQueueUrlAsEndpoint: config.endpoints.sqs === undefined });
  // Cache and batch-record calls are small: fail fast so an outage degrades instead of stalling a batch.
  const dynamoClient = new DynamoDBClient({
    region: config.region,
    endpoint: config.endpoints.dynamodb,
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
  });
  const dynamo = DynamoDBDocumentClient.from(dynamoClient, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const runtimeIn = (region: string, pool?: PoolConfig) =>
    new BedrockRuntimeClient({
      region,
      ...(pool?.roleArn !== undefined ? { credentials: poolCredentials(config, pool) } : {}),
      endpoint: config.endpoints.bedrock,
      // One attempt per SDK call: labelq retries itself (src/core/classify/retry-policy.ts) so that
      // every throttle reaches the adaptive limiter, and retries never multiply.
      maxAttempts: 1,
      // The HTTP/2 handler has no request timeout by default: a stuck stream would hang the batch.
      requestHandler: new NodeHttp2Handler({ requestTimeout: config.bedrock.timeoutMs, sessionTimeout: 300_000 }),
    });
  const bedrock = runtimeIn(config.region);
  const runtimes = new Map([[config.region, bedrock]]);
  // A pool in another account has a client of its own: the Region alone does not say whose quota.
  const rolePools = new Map((config.limiter?.pools ?? []).filter((p) => p.roleArn !== undefined).map((p) => [p.id, p]));
  const poolRuntimes = new Map<string, BedrockRuntimeClient>();
  return {
    sqs,
    dynamo,
    dynamoBase: dynamoClient,
    bedrock,
    bedrockIn(region) {
      let client = runtimes.get(region);
      if (!client) {
        client = runtimeIn(region);
        runtimes.set(region, client);
      }
      return client;
    },
    bedrockForPool({ poolId, region }) {
      const pool = rolePools.get(poolId);
      if (!pool || pool.region !== region) return this.bedrockIn(region);
      let own = poolRuntimes.get(pool.id);
      if (!own) {
        own = runtimeIn(region, pool);
        poolRuntimes.set(pool.id, own);
      }
      return own;
    },
    s3,
    bedrockControl,
    destroy() {
      sqs.destroy();
      dynamo.destroy();
      for (const client of runtimes.values()) client.destroy();
      for (const client of poolRuntimes.values()) client.destroy();
      s3.destroy();
      bedrockControl.destroy();
    },
  };
}

/**
 * A pool's credentials from its role (sts:AssumeRole, from the worker's own credentials), which
 * the provider refreshes before they expire. The STS client calls the pool's Region (regional
 * STS endpoints) or AWS_ENDPOINT_URL_STS.
 */
export function poolCredentials(config: Pick<Config, "endpoints">, pool: Pick<PoolConfig, "id" | "region" | "roleArn">) {
  return fromTemporaryCredentials({
    params: { RoleArn: pool.roleArn!, RoleSessionName: `labelq-${pool.id}`.slice(0, 64).replace(/[^\w+=,.@-]/g, "-") },
    clientConfig: { region: pool.region, ...(config.endpoints.sts !== undefined ? { endpoint: config.endpoints.sts } : {}) },
  });
}
