import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { NodeHttp2Handler } from "@smithy/node-http-handler";
import type { Config } from "./config/config.ts";

export interface AwsClients {
  sqs: SQSClient;
  dynamo: DynamoDBDocumentClient;
  /** The plain DynamoDB client under `dynamo`, for table management. */
  dynamoBase: DynamoDBClient;
  bedrock: BedrockRuntimeClient;
  destroy(): void;
}

/**
 * Every AWS client, created in this one place from config. Credentials come from the SDK's
 * standard chain; endpoints from config (AWS_ENDPOINT_URL*), so one build talks to AWS,
 * LocalStack or the embedded stack.
 */
export function createAwsClients(config: Pick<Config, "region" | "endpoints" | "bedrock">): AwsClients {
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
  const bedrock = new BedrockRuntimeClient({
    region: config.region,
    endpoint: config.endpoints.bedrock,
    // One attempt per SDK call: labelq retries itself (src/classify/retry-policy.ts) so that
    // every throttle reaches the adaptive limiter, and retries never multiply.
    maxAttempts: 1,
    // The HTTP/2 handler has no request timeout by default: a stuck stream would hang the batch.
    requestHandler: new NodeHttp2Handler({ requestTimeout: config.bedrock.timeoutMs, sessionTimeout: 300_000 }),
  });
  return {
    sqs,
    dynamo,
    dynamoBase: dynamoClient,
    bedrock,
    destroy() {
      sqs.destroy();
      dynamo.destroy();
      bedrock.destroy();
    },
  };
}
