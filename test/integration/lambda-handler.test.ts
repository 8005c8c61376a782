import { DeleteMessageCommand, GetQueueAttributesCommand, type Message, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { createLambdaHandler, type LambdaHandler, RETURN_MARGIN_MS } from "../../src/lambda/lambda-handler.ts";
import { payloadHash } from "../../src/core/idempotency/payload-hash.ts";
import { DynamoIdempotencyStore } from "../../src/adapters/dynamodb/dynamo-idempotency-store.ts";
import { toDlqEntry } from "../../src/app/dlq/dlq-inspect.ts";
import { makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";
import { until } from "../support/until.ts";

/**
 * The Lambda handler invoked as the SQS event source invokes it: messages are received from
 * the queue (as Lambda's poller does), handed over in the event's record shape, and the ones
 * not reported in batchItemFailures are deleted afterwards (as Lambda does).
 */
interface EventSource {
  p: Pipeline;
  handle: LambdaHandler;
  queueArn: string;
}

const opened: EventSource[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) {
    await s.handle.close();
    await s.p.close();
  }
});

async function eventSource(options: Parameters<typeof startPipeline>[0] = {}): Promise<EventSource> {
  const p = await startPipeline(options);
  const handle = createLambdaHandler(p.config, p.clients, p.logger);
  const attrs = await p.sqs.send(new GetQueueAttributesCommand({ QueueUrl: p.queues.requests, AttributeNames: ["QueueArn"] }));
  const source = { p, handle, queueArn: attrs.Attributes!.QueueArn! };
  opened.push(source);
  return source;
}

/** Receive `count` messages from the requests queue, as the event source's poller does. */
async function poll(s: EventSource, count: number): Promise<Message[]> {
  const got: Message[] = [];
  await until(async () => {
    const res = await s.p.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: s.p.queues.requests, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ["All"], MessageAttributeNames: ["All"] }),
    );
    got.push(...(res.Messages ?? []));
    return got.length >= count;
  });
  return got;
}

/** The event Lambda builds from received messages: camelCase fields, system attributes as strings. */
function eventOf(s: EventSource, messages: Message[]): SQSEvent {
  return {
    Records: messages.map(
      (m): SQSRecord => ({
        messageId: m.MessageId!,
        receiptHandle: m.ReceiptHandle!,
        body: m.Body!,
        attributes: {
          ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? "1",
          SentTimestamp: m.Attributes?.SentTimestamp ?? "0",
          SenderId: m.Attributes?.SenderId ?? "AIDAEXAMPLE",
          ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? "0",
        },
        messageAttributes: {},
        md5OfBody: m.MD5OfBody!,
        eventSource: "aws:sqs",
        eventSourceARN: s.queueArn,
        awsRegion: s.p.config.region,
      }),
    ),
  };
}

/** What the event source does with the response: delete every record not reported as failed. */
async function deleteSucceeded(s: EventSource, messages: Message[], failed: string[]): Promise<void> {
  for (const m of messages.filter((x) => !failed.includes(x.MessageId!))) {
    await s.p.sqs.send(new DeleteMessageCommand({ QueueUrl: s.p.queues.requests, ReceiptHandle: m.ReceiptHandle }));
  }
}

describe("Lambda handler (SQS event source with ReportBatchItemFailures)", () => {
  it("reports the one message that must come back and lets the others be deleted: results published, bad input dead-lettered", async () => {
    // The same fleet-wide limiter as the workers: through Redis.
    const s = await eventSource({ env: { LABELQ_REDIS_URL: "redis://127.0.0.1:6379", LABELQ_LIMITER_ID: `lq-lambda-${randomUUID()}` } });
    const good = [makeRequest(3), makeRequest(4)];
    // Another worker holds this batch's lease: the handler defers it, so it must not be deleted.
    const held = makeRequest(2);
    const store = new DynamoIdempotencyStore(s.p.clients.dynamo, s.p.tables.batchesTable, 1);
    expect((await store.claim(held.batchId, payloadHash(held), "another-worker", 3_000)).kind).toBe("claimed");
    for (const r of [...good, held]) await s.p.send(r);
    await s.p.send("this is not a labelq request");

    const messages = await poll(s, 4);
    const heldMessage = messages.find((m) => m.Body!.includes(held.batchId))!;
    const response = await s.handle(eventOf(s, messages), { getRemainingTimeInMillis: () => 60_000 });

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: heldMessage.MessageId }] });
    await deleteSucceeded(s, messages, response.batchItemFailures.map((f) => f.itemIdentifier));

    const results = await s.p.results(2);
    expect(results.map((r) => r.batchId).sort()).toEqual(good.map((r) => r.batchId).sort());
    expect(results.every((r) => r.status === "completed")).toBe(true);
    const dead = await s.p.drain(s.p.queues.dlq, 1);
    expect(dead[0]!.Body).toBe("this is not a labelq request");
    // Only the reported message comes back to the queue (after the other worker's lease).
    const back = await poll(s, 1);
    expect(back.map((m) => m.MessageId)).toEqual([heldMessage.MessageId]);
  });

  it("returns in-flight messages to the queue when the function nears its timeout, and reports them", async () => {
    // Each model call takes 30 s; the function has half a second left before its return margin.
    const s = await eventSource({ emulator: { latency: { fixedMs: 30_000, perOutputTokenMs: 0 } } });
    await s.p.send(makeRequest(2));
    const [message] = await poll(s, 1);
    const response = await s.handle(eventOf(s, [message!]), { getRemainingTimeInMillis: () => RETURN_MARGIN_MS + 500 });
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: message!.MessageId }] });
    // Visible again at once (the queue's visibility timeout is 30 s), for the next invocation.
    const again = await poll(s, 1);
    expect(again[0]!.MessageId).toBe(message!.MessageId);
    expect(again[0]!.Attributes?.ApproximateReceiveCount).toBe("2");
  });

  it("dead-letters a batch that runs out of time on its last receive with RECEIVES_EXHAUSTED, and SQS's redrive policy moves nothing", async () => {
    // The queue's redrive policy allows one receive: the first is the last. The handler reads that from the queue.
    const s = await eventSource({ maxReceiveCount: 1, emulator: { latency: { fixedMs: 30_000, perOutputTokenMs: 0 } } });
    const request = makeRequest(2);
    await s.p.send(request);
    const [message] = await poll(s, 1);
    expect(message!.Attributes?.ApproximateReceiveCount).toBe("1");
    const response = await s.handle(eventOf(s, [message!]), { getRemainingTimeInMillis: () => RETURN_MARGIN_MS + 500 });
    expect(response).toEqual({ batchItemFailures: [] });

    // Before the event source deletes it, another poller asks for messages: had the handler made the message
    // visible again (as it does below the last receive), this receive would have the redrive policy move it.
    const between = await s.p.sqs.send(new ReceiveMessageCommand({ QueueUrl: s.p.queues.requests, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect(between.Messages ?? []).toEqual([]);
    await deleteSucceeded(s, [message!], []);

    const dead = (await s.p.drain(s.p.queues.dlq, 2, 2_000)).map(toDlqEntry);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ code: "RECEIVES_EXHAUSTED", redrive: false, batchId: request.batchId, receiveCount: 1, sourceQueue: s.p.queues.requests });
    expect(dead[0]!.reason).toMatch(/^Not done after 1 receives, the requests queue's maxReceiveCount \(1\): the function neared its timeout/);
    expect(dead[0]!.body).toBe(message!.Body);
    expect(await s.p.messagesOn(s.p.queues.requests)).toBe(0);
  });
});
