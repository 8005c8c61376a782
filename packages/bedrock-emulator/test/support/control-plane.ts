import { BedrockClient } from "@aws-sdk/client-bedrock";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { buildApp } from "fauxqs";

const CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };

/** An S3 server (fauxqs, path-style) with one bucket holding `objects`, for the emulator's jobs to read as a service role would. */
export async function startTrainingBucket(bucket: string, objects: Record<string, string>): Promise<{ s3: S3Client; close: () => Promise<void> }> {
  const fauxqs = buildApp({ logger: false, defaultRegion: "us-east-1" });
  const s3Url = await fauxqs.listen({ port: 0, host: "127.0.0.1" });
  const s3 = new S3Client({ region: "us-east-1", endpoint: s3Url, forcePathStyle: true, credentials: CREDENTIALS });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const [key, body] of Object.entries(objects)) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return {
    s3,
    close: async () => {
      s3.destroy();
      await fauxqs.close();
    },
  };
}

/** Real Bedrock control-plane clients pointed at the emulator, one per Region (made on first use, no retries); `destroy` closes them all. */
export function controlClients(url: () => string): { bedrock: (region?: string) => BedrockClient; destroy: () => void } {
  const clients = new Map<string, BedrockClient>();
  return {
    bedrock(region = "us-east-1") {
      let client = clients.get(region);
      if (client === undefined) {
        client = new BedrockClient({ region, endpoint: url(), credentials: CREDENTIALS, maxAttempts: 1 });
        clients.set(region, client);
      }
      return client;
    },
    destroy: () => {
      for (const c of clients.values()) c.destroy();
    },
  };
}
