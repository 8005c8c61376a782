import net from "node:net";
import { describe, expect, it } from "vitest";
import { startLocalStack } from "../../src/local/local-stack.ts";
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
});
