import { ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelCallError } from "../../src/core/errors/errors.ts";
import { LOCAL_CREDENTIALS, type LocalStack, startLocalStack } from "../../src/app/local/local-stack.ts";
import { toSqsJson } from "../../src/adapters/sqs/sqs-json.ts";
import { sendToDlq } from "../../src/adapters/sqs/sqs-messages.ts";
import { makeRequest } from "../support/pipeline.ts";
import { exited, repoRoot } from "../support/run-cli.ts";

describe("labelq dlq replay as a process", () => {
  let stack: LocalStack;
  let sqs: SQSClient;

  beforeAll(async () => {
    stack = await startLocalStack({ queuePrefix: `lq-replay-cli-${Date.now()}` });
    sqs = new SQSClient({ region: stack.region, endpoint: stack.endpoints.sqs, credentials: LOCAL_CREDENTIALS, useQueueUrlAsEndpoint: false });
  });

  afterAll(async () => {
    sqs.destroy();
    await stack.close();
  });

  it("on SIGINT stops after the current message, prints its summary, exits non-zero and leaves the rest visible at once", async () => {
    for (let k = 0; k < 5; k++) {
      const r = makeRequest(1);
      const error = new ModelCallError("MODEL_UNAVAILABLE", "m", "Bedrock answered ServiceUnavailableException");
      await sendToDlq(sqs, stack.queues.dlq, { MessageId: `orig-${k}`, Body: toSqsJson(r) }, { error, receiveCount: 3, sourceQueue: stack.queues.requests, batchId: r.batchId });
    }
    // One message a second: the replay is still pacing when the signal comes.
    const child = spawn(process.execPath, [path.join(repoRoot, "bin", "labelq.js"), "dlq", "replay", "--execute", "--rate", "1", "--visibility-timeout", "600"], {
      cwd: repoRoot,
      env: { ...process.env, ...stack.env, AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", LOG_LEVEL: "warn" },
    });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve) =>
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        if (/^moved\s/m.test(stdout)) resolve();
      }),
    );
    child.kill("SIGINT");
    expect(await exited(child)).toBe(1);
    expect(stdout).toMatch(/^replay interrupted: moved [12], skipped 0, failed 0 \(\d+ read from the DLQ\)$/m);
    expect(stderr).toMatch(/^labelq: SHUTTING_DOWN: interrupted before the whole DLQ was read/m);
    const moved = Number(/replay interrupted: moved (\d)/.exec(stdout)?.[1]);
    // Visible at once, not after the 600 s visibility timeout of the replay's reads.
    const left = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.queues.dlq, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60 }));
    expect(left.Messages ?? []).toHaveLength(5 - moved);
  });
});
