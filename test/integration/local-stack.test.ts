import net from "node:net";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { LOCAL_CREDENTIALS, startLocalStack } from "../../src/app/local/local-stack.ts";
import { freePort } from "../support/run-cli.ts";

/** True when something accepts TCP connections on host:port. */
function listening(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

describe("the embedded local stack", () => {
  it("closes every server even when one close step fails, and reports the failure", async () => {
    const stack = await startLocalStack({ queuePrefix: `lq-close-${Date.now()}` });
    const ports = [portOf(stack.endpoints.sqs), portOf(stack.endpoints.dynamodb), portOf(stack.endpoints.bedrock)];
    // Closing the emulator first makes the stack's own emulator close step fail (ERR_SERVER_NOT_RUNNING).
    await stack.emulator.close();
    await expect(stack.close()).rejects.toThrow(/not running/i);
    for (const port of ports) expect(await listening(port), `port ${port}`).toBe(false);
  });

  it("closes what it already started when a later server cannot start", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const bedrockPort = (taken.address() as net.AddressInfo).port;
    const [sqsPort, dynamodbPort] = [await freePort(), await freePort()];
    try {
      await expect(startLocalStack({ ports: { sqs: sqsPort, dynamodb: dynamodbPort, bedrock: bedrockPort } })).rejects.toThrow(/EADDRINUSE/);
      expect(await listening(sqsPort), "SQS port").toBe(false);
      expect(await listening(dynamodbPort), "DynamoDB port").toBe(false);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it("binds every server to the host it is given, not to every interface", async () => {
    const stack = await startLocalStack({ host: "127.0.0.1", queuePrefix: `lq-bind-${Date.now()}` });
    try {
      for (const url of Object.values(stack.endpoints)) {
        expect(await listening(portOf(url), "127.0.0.1"), url).toBe(true);
        // Another loopback address reaches a server bound to 0.0.0.0, not one bound to 127.0.0.1.
        expect(await listening(portOf(url), "127.0.0.2"), url).toBe(false);
      }
    } finally {
      await stack.close();
    }
  });

  it("serves S3 with the bulk bucket created, and names it and the Bedrock control plane in its env", async () => {
    const stack = await startLocalStack({ queuePrefix: `lq-s3-${Date.now()}` });
    // Clients built from the env block alone, as labelq's config builds them.
    const s3 = new S3Client({ region: stack.region, endpoint: stack.env.AWS_ENDPOINT_URL_S3, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
    try {
      expect(stack.env.LABELQ_BULK_BUCKET).toBe("labelq-bulk");
      expect(stack.env.LABELQ_BULK_ROLE_ARN).toBe("arn:aws:iam::000000000000:role/labelq-bedrock-batch");
      expect(stack.env.AWS_ENDPOINT_URL_S3).toBe(stack.endpoints.s3);
      expect(stack.env.AWS_ENDPOINT_URL_BEDROCK).toBe(stack.endpoints.bedrockControl);
      const bucket = stack.env.LABELQ_BULK_BUCKET;
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "in/run-1/part-0.jsonl", Body: '{"recordId":"r1"}\n' }));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "in/run-2/part-0.jsonl", Body: "{}\n" }));
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "in/run-1/" }));
      expect(listed.Contents?.map((o) => o.Key)).toEqual(["in/run-1/part-0.jsonl"]);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "in/run-1/part-0.jsonl" }));
      expect(await got.Body?.transformToString()).toBe('{"recordId":"r1"}\n');
      // The control-plane client speaks HTTP/1.1 (the runtime client HTTP/2): the emulator answers both on one port.
      const stats = await fetch(`${stack.env.AWS_ENDPOINT_URL_BEDROCK}/_emulator/stats`);
      expect(stats.status).toBe(200);
      expect(await stats.json()).toMatchObject({ calls: 0 });
    } finally {
      s3.destroy();
      await stack.close();
    }
  });
});
