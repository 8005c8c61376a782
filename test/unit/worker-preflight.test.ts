import { QueueDoesNotExist } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors/errors.ts";
import { loadConfig, requireQueues } from "../../src/core/config/config.ts";
import { whyWorkerCannotStart, workerQueues } from "../../src/app/ops/preflight.ts";
import { caught } from "../support/fakes.ts";

const queues = workerQueues({ requests: "https://sqs.us-east-1.amazonaws.com/1/labelq-requests", results: "https://sqs/r", dlq: "https://sqs/d" });
const requests = queues[0]!;

function sdkError(name: string, message: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { name, ...extra });
}

describe("whyWorkerCannotStart", () => {
  it("names the cause and the queue with the variable that sets it, in one line", () => {
    const cases: [unknown, RegExp][] = [
      [sdkError("CredentialsProviderError", "Could not load credentials from any providers"), /^no AWS credentials found .* the requests queue \S+labelq-requests \(LABELQ_REQUESTS_QUEUE_URL\); .*AWS_ACCESS_KEY_ID=test/],
      [sdkError("InvalidClientTokenId", "The security token included in the request is invalid."), /^AWS refused the credentials .*: InvalidClientTokenId: The security token/],
      [new QueueDoesNotExist({ message: "The specified queue does not exist.", $metadata: {} }), /^the requests queue \S+ \(LABELQ_REQUESTS_QUEUE_URL\) does not exist/],
      [sdkError("AccessDenied", "User arn:aws:sts::1:assumed-role/x is not authorized to perform: sqs:getqueueattributes"), /^not allowed to read the requests queue .*sqs:GetQueueAttributes.*not authorized/],
      [sdkError("Error", "connect ECONNREFUSED 127.0.0.1:1\nmore"), /^cannot read the requests queue \S+ \(LABELQ_REQUESTS_QUEUE_URL\): connect ECONNREFUSED 127\.0\.0\.1:1$/],
    ];
    for (const [error, pattern] of cases) {
      const e = whyWorkerCannotStart(error, requests);
      expect(e.code).toBe("WORKER_CANNOT_START");
      expect(e.retryable).toBe(false);
      expect(e.message).not.toContain("\n");
      expect(e.message).toMatch(pattern);
      expect(e.cause).toBe(error);
    }
  });
});

describe("requireQueues", () => {
  it("names every missing queue variable at once", () => {
    const error = caught(() => requireQueues(loadConfig({ LABELQ_RESULTS_QUEUE_URL: "https://sqs/r" }), ["requests", "results", "dlq"]));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.split(":")[0])).toEqual(["LABELQ_REQUESTS_QUEUE_URL", "LABELQ_DLQ_URL"]);
  });
});
