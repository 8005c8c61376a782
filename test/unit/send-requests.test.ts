import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { sendRequests } from "../../src/app/producer/send-requests.ts";
import { rejection } from "../support/fakes.ts";

const sqsMock = mockClient(SQSClient);
const queueUrl = "https://sqs.us-east-1.amazonaws.com/000000000000/requests";
const request: LabelRequest = { schemaVersion: 1, batchId: "b-1", items: [{ id: "t-1", text: "hello" }] };

afterEach(() => sqsMock.reset());

describe("sendRequests", () => {
  it("re-sends the entries SQS reports as failed", async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .resolvesOnce({ Successful: [], Failed: [{ Id: "0", SenderFault: false, Code: "InternalError" }] })
      .resolves({ Successful: [{ Id: "0", MessageId: "m", MD5OfMessageBody: "x" }], Failed: [] });
    const sent: number[] = [];
    await sendRequests(new SQSClient({ region: "us-east-1" }), queueUrl, [request], (n) => sent.push(n));
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(2);
    expect(sent).toEqual([1]);
  });

  it("stops waiting to re-send as soon as the signal is aborted", async () => {
    const stop = new AbortController();
    sqsMock.on(SendMessageBatchCommand).callsFake(() => {
      // Abort during the first back-off wait (200 ms x 2^attempt, up to seconds): the wait must end with it.
      queueMicrotask(() => stop.abort(new Error("interrupted")));
      return { Successful: [], Failed: [{ Id: "0", SenderFault: false, Code: "InternalError" }] };
    });
    const error = await rejection(sendRequests(new SQSClient({ region: "us-east-1" }), queueUrl, [request], undefined, stop.signal));
    expect((error as Error).name).toBe("AbortError");
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(1);
  });
});
