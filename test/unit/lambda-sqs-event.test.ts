import type { Message } from "@aws-sdk/client-sqs";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { handleSqsEvent } from "../../src/lambda/handle-sqs-event.ts";
import { messageFromRecord } from "../../src/lambda/sqs-record.ts";

const logger = pino({ level: "silent" });
const signal = new AbortController().signal;

function record(id: string, queueArn = "arn:aws:sqs:us-east-1:123456789012:labelq-requests"): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body: `{"batchId":"${id}"}`,
    attributes: { ApproximateReceiveCount: "2", SentTimestamp: "1764470000000", SenderId: "AIDA", ApproximateFirstReceiveTimestamp: "1764470000100" },
    messageAttributes: {
      tenant: { stringValue: "team-a", dataType: "String" },
      blob: { binaryValue: Buffer.from("hi").toString("base64"), dataType: "Binary" },
    },
    md5OfBody: "md5",
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: "us-east-1",
  };
}

describe("messageFromRecord", () => {
  it("gives the message handler the SDK's Message: ids, receive count, attributes with binary values decoded", () => {
    const m = messageFromRecord(record("m-1"));
    expect(m).toMatchObject({ MessageId: "m-1", ReceiptHandle: "rh-m-1", Body: '{"batchId":"m-1"}', Attributes: { ApproximateReceiveCount: "2" } });
    expect(m.MessageAttributes?.tenant).toEqual({ DataType: "String", StringValue: "team-a" });
    expect(Buffer.from(m.MessageAttributes!.blob!.BinaryValue!).toString()).toBe("hi");
  });
});

describe("handleSqsEvent", () => {
  it("reports exactly the messages the handler keeps, and one that throws", async () => {
    const event: SQSEvent = { Records: ["ok-1", "keep", "ok-2", "throws"].map((id) => record(id)) };
    const out = await handleSqsEvent(
      event,
      (m: Message) => (m.MessageId === "throws" ? Promise.reject(new Error("boom")) : Promise.resolve({ ack: m.MessageId !== "keep" })),
      signal,
      logger,
    );
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: "keep" }, { itemIdentifier: "throws" }] });
  });

  it("on a FIFO queue stops at the first kept message and keeps the rest unprocessed, in order", async () => {
    const fifo = "arn:aws:sqs:us-east-1:123456789012:labelq-requests.fifo";
    const seen: string[] = [];
    const out = await handleSqsEvent(
      { Records: ["a", "b", "c", "d"].map((id) => record(id, fifo)) },
      (m: Message) => {
        seen.push(m.MessageId!);
        return Promise.resolve({ ack: m.MessageId !== "b" });
      },
      signal,
      logger,
    );
    expect(seen).toEqual(["a", "b"]);
    expect(out.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(["b", "c", "d"]);
  });
});
