import { ChangeMessageVisibilityCommand, type Message, SQSClient } from "@aws-sdk/client-sqs";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { Handled, MessageOutcome } from "../../src/app/worker/message-handler.ts";
import { ReceivesExhaustedError } from "../../src/core/errors/errors.ts";
import { handleSqsEvent, type HandleMessage, type SqsEventDeps } from "../../src/lambda/handle-sqs-event.ts";
import { maxReceiveCountOf } from "../../src/lambda/redrive-limit.ts";
import { messageFromRecord } from "../../src/lambda/sqs-record.ts";
import { VisibilityHold } from "../../src/lambda/visibility-hold.ts";

const logger = pino({ level: "silent" });
const signal = new AbortController().signal;
const QUEUE = "arn:aws:sqs:us-east-1:123456789012:labelq-requests";
const FIFO = "arn:aws:sqs:us-east-1:123456789012:labelq-requests.fifo";

function record(id: string, options: { queueArn?: string; receiveCount?: number } = {}): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body: `{"batchId":"${id}"}`,
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 2),
      SentTimestamp: "1764470000000",
      SenderId: "AIDA",
      ApproximateFirstReceiveTimestamp: "1764470000100",
    },
    messageAttributes: {
      tenant: { stringValue: "team-a", dataType: "String" },
      blob: { binaryValue: Buffer.from("hi").toString("base64"), dataType: "Binary" },
    },
    md5OfBody: "md5",
    eventSource: "aws:sqs",
    eventSourceARN: options.queueArn ?? QUEUE,
    awsRegion: "us-east-1",
  };
}

/** A handler that answers each message by id: an outcome, or a throw. */
function answering(outcomes: Record<string, MessageOutcome | Error>, seen: string[] = []): HandleMessage {
  return (m: Message) => {
    seen.push(m.MessageId!);
    const outcome = outcomes[m.MessageId!] ?? "published";
    if (outcome instanceof Error) return Promise.reject(outcome);
    const ack = ["published", "republished", "dead-lettered", "bulk-accepted", "bulk-duplicate"].includes(outcome);
    return Promise.resolve<Pick<Handled, "ack" | "outcome">>({ ack, outcome });
  };
}

/** Deps that record what was dead-lettered and every hold and release, in order with the handler's calls. */
function recordingDeps(maxReceiveCount: number | undefined, options: { dlqDown?: boolean; events?: string[] } = {}) {
  const dead: { messageId: string; error: ReceivesExhaustedError }[] = [];
  const events = options.events ?? [];
  const deps: SqsEventDeps = {
    logger,
    maxReceiveCount,
    deadLetter: (message, error) => {
      events.push(`dead-letter ${message.MessageId}`);
      if (options.dlqDown) return Promise.reject(new Error("DLQ unreachable"));
      dead.push({ messageId: message.MessageId!, error });
      return Promise.resolve();
    },
    holdVisibility: (receiptHandle) => {
      events.push(`hold ${receiptHandle}`);
      return () => events.push(`release ${receiptHandle}`);
    },
  };
  return { deps, dead, events };
}

const ids = (out: { batchItemFailures: { itemIdentifier: string }[] }) => out.batchItemFailures.map((f) => f.itemIdentifier);

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
    const { deps, dead } = recordingDeps(5);
    const out = await handleSqsEvent(event, answering({ keep: "retry-later", throws: new Error("boom") }), signal, deps);
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: "keep" }, { itemIdentifier: "throws" }] });
    expect(dead).toEqual([]);
  });

  it("on a FIFO queue stops at the first kept message and keeps the rest unprocessed, in order", async () => {
    const seen: string[] = [];
    const { deps } = recordingDeps(5);
    const out = await handleSqsEvent({ Records: ["a", "b", "c", "d"].map((id) => record(id, { queueArn: FIFO })) }, answering({ b: "deferred" }, seen), signal, deps);
    expect(seen).toEqual(["a", "b"]);
    expect(ids(out)).toEqual(["b", "c", "d"]);
  });
});

describe("handleSqsEvent on a record's last receive (ApproximateReceiveCount = the queue's maxReceiveCount)", () => {
  it("dead-letters a record the handler returns, with RECEIVES_EXHAUSTED and why, instead of reporting it", async () => {
    const { deps, dead } = recordingDeps(5);
    const out = await handleSqsEvent({ Records: [record("late", { receiveCount: 5 }), record("ok", { receiveCount: 5 })] }, answering({ late: "returned" }), signal, deps);
    expect(ids(out)).toEqual([]);
    expect(dead.map((d) => d.messageId)).toEqual(["late"]);
    const error = dead[0]!.error;
    expect(error).toBeInstanceOf(ReceivesExhaustedError);
    expect(error).toMatchObject({ code: "RECEIVES_EXHAUSTED", receiveCount: 5, maxReceiveCount: 5, retryable: false });
    expect(error.message).toBe(
      "Not done after 5 receives, the requests queue's maxReceiveCount (5): the function neared its timeout before the batch finished (a longer function timeout or smaller batches help)",
    );
  });

  it("names each way a record is left on the queue in its reason", async () => {
    const outcomes: Record<string, MessageOutcome | Error> = {
      retry: "retry-later",
      defer: "deferred",
      quota: "quota-hold",
      lost: "lease-lost",
      throws: new Error("socket hang up"),
    };
    const { deps, dead } = recordingDeps(3);
    await handleSqsEvent({ Records: Object.keys(outcomes).map((id) => record(id, { receiveCount: 3 })) }, answering(outcomes), signal, deps);
    const why = Object.fromEntries(dead.map((d) => [d.messageId, d.error.message.split("(3): ")[1]]));
    expect(why).toEqual({
      retry: "a retryable failure (its code is in the function's log under this messageId)",
      defer: "another worker held the batch's lease",
      quota: "every allowed model's daily token quota was spent",
      lost: "another worker took the batch's lease over",
      throws: "the message handler failed (socket hang up)",
    });
  });

  it("counts a receive count past the limit as the last receive too (a limit set lower than the queue's)", async () => {
    const { deps, dead } = recordingDeps(3);
    const out = await handleSqsEvent({ Records: [record("x", { receiveCount: 4 })] }, answering({ x: "retry-later" }), signal, deps);
    expect(ids(out)).toEqual([]);
    expect(dead.map((d) => d.messageId)).toEqual(["x"]);
  });

  it("reports a record below its last receive as before, and dead-letters nothing", async () => {
    const { deps, dead, events } = recordingDeps(5);
    const out = await handleSqsEvent({ Records: [record("early", { receiveCount: 4 })] }, answering({ early: "returned" }), signal, deps);
    expect(ids(out)).toEqual(["early"]);
    expect(dead).toEqual([]);
    expect(events).toEqual([]);
  });

  it("returns records whatever their receive count when no redrive limit is known", async () => {
    const { deps, dead } = recordingDeps(undefined);
    const out = await handleSqsEvent({ Records: [record("old", { receiveCount: 99 })] }, answering({ old: "returned" }), signal, deps);
    expect(ids(out)).toEqual(["old"]);
    expect(dead).toEqual([]);
  });

  it("holds back the handler's visibility changes while the record runs and until it is in the DLQ", async () => {
    const events: string[] = [];
    const { deps } = recordingDeps(2, { events });
    const handle: HandleMessage = (m) => {
      events.push(`handle ${m.MessageId}`);
      return Promise.resolve({ ack: false, outcome: "returned" });
    };
    await handleSqsEvent({ Records: [record("late", { receiveCount: 2 })] }, handle, signal, deps);
    expect(events).toEqual(["hold rh-late", "handle late", "dead-letter late", "release rh-late"]);
  });

  it("keeps (reports) a record whose dead-lettering fails, so it is not lost", async () => {
    const { deps } = recordingDeps(5, { dlqDown: true });
    const out = await handleSqsEvent({ Records: [record("late", { receiveCount: 5 })] }, answering({ late: "returned" }), signal, deps);
    expect(ids(out)).toEqual(["late"]);
  });

  it("on a FIFO queue dead-letters a record held back unprocessed behind a kept one on its last receive, and keeps the others", async () => {
    const seen: string[] = [];
    const { deps, dead } = recordingDeps(5);
    const records = [record("a", { queueArn: FIFO, receiveCount: 1 }), record("b", { queueArn: FIFO, receiveCount: 5 }), record("c", { queueArn: FIFO, receiveCount: 2 })];
    const out = await handleSqsEvent({ Records: records }, answering({ a: "retry-later" }, seen), signal, deps);
    expect(seen).toEqual(["a"]);
    expect(ids(out)).toEqual(["a", "c"]);
    expect(dead.map((d) => d.messageId)).toEqual(["b"]);
    expect(dead[0]!.error.message).toMatch(/not processed: an earlier message of its FIFO event went back to the queue first/);
  });

  it("on a FIFO queue goes on after a record dead-lettered on its last receive: it no longer holds its group", async () => {
    const seen: string[] = [];
    const { deps } = recordingDeps(5);
    const records = [record("a", { queueArn: FIFO, receiveCount: 5 }), record("b", { queueArn: FIFO, receiveCount: 1 })];
    const out = await handleSqsEvent({ Records: records }, answering({ a: "retry-later" }, seen), signal, deps);
    expect(seen).toEqual(["a", "b"]);
    expect(ids(out)).toEqual([]);
  });
});

describe("maxReceiveCountOf (a queue's RedrivePolicy attribute)", () => {
  it("reads maxReceiveCount as SQS answers it, or as a string; none without a policy or with a bad one", () => {
    expect(maxReceiveCountOf('{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:labelq-dlq","maxReceiveCount":5}')).toBe(5);
    expect(maxReceiveCountOf('{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:labelq-dlq","maxReceiveCount":"7"}')).toBe(7);
    expect(maxReceiveCountOf(undefined)).toBeUndefined();
    expect(maxReceiveCountOf("")).toBeUndefined();
    expect(maxReceiveCountOf("{not json")).toBeUndefined();
    expect(maxReceiveCountOf('{"maxReceiveCount":0}')).toBeUndefined();
  });
});

describe("VisibilityHold", () => {
  // Nothing listens on port 9 here: a call that reaches the network fails, one held back does not.
  const client = () =>
    new SQSClient({ region: "us-east-1", endpoint: "http://127.0.0.1:9", maxAttempts: 1, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  const change = (sqs: SQSClient, receiptHandle: string) =>
    sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: "http://127.0.0.1:9/000000000000/q", ReceiptHandle: receiptHandle, VisibilityTimeout: 0 }));

  it("answers a held receipt handle's ChangeMessageVisibility without sending it, and lets every other call through", async () => {
    const sqs = client();
    const hold = new VisibilityHold(sqs);
    const release = hold.hold("rh-held");
    await expect(change(sqs, "rh-held")).resolves.toMatchObject({ $metadata: {} });
    await expect(change(sqs, "rh-other")).rejects.toThrow();
    release();
    await expect(change(sqs, "rh-held")).rejects.toThrow();
    sqs.destroy();
  });

  it("comes off the client when detached", async () => {
    const sqs = client();
    const hold = new VisibilityHold(sqs);
    hold.hold("rh-held");
    hold.detach();
    await expect(change(sqs, "rh-held")).rejects.toThrow();
    sqs.destroy();
  });
});
