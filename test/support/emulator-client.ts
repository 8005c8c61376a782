import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { NodeHttp2Handler } from "@smithy/node-http-handler";

/** A real Bedrock runtime client pointed at a Bedrock emulator (test double), with a request timeout as src/adapters/aws-clients.ts sets one. */
export function emulatorClient(url: string, maxAttempts: number): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    region: "us-east-1",
    endpoint: url,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts,
    requestHandler: new NodeHttp2Handler({ requestTimeout: 10_000 }),
  });
}
