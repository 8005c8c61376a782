import { ChangeMessageVisibilityCommand, type Message, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import type { LabelResult } from "../../src/core/contracts/result.ts";
import { InvalidRequestError, ModelCallError, StoreError } from "../../src/core/errors/errors.ts";
import { Metrics } from "../../src/core/observability/metrics.ts";
import { createMessageHandler, type HandlerSettings, type LabelFn } from "../../src/app/worker/message-handler.ts";
import { MAX_VISIBILITY_S, VISIBILITY_MARGIN_S } from "../../src/app/worker/retry-delay.ts";
import { DLQ_ATTRIBUTES } from "../../src/adapters/sqs/sqs-messages.ts";
import { FakeIdempotencyStore, silentLogger } from "../support/fakes.ts";
import { until } from "../support/until.ts";

const QUEUES = { requests: "http://sqs.local/000/requests", results: "http://sqs.local/000/results", dlq: "http://sqs.local/000/dlq" };

const settings: HandlerSettings = {
  requestsQueueUrl: QUEUES.requests,
  resultsQueueUrl: QUEUES.results,
  dlqUrl: QUEUES.dlq,
  replyToAllowlist: [],
  limits: { maxItems: 100, maxTextChars: 5_000, maxBodyBytes: 1_000_000 },
  retryBaseDelayS: 10,
  leaseS: 120,
  // Renewed often so a lost lease shows within a test without waiting long.
  leaseRenewS: 0.01,
};

// The SQS client is the seam between the handler and the queues.
const sqsMock = mockClient(SQSClient);
const sqs = new SQSClient({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
let store: FakeIdempotencyStore;

beforeEach(() => {
  sqsMock.reset();
  sqsMock.on(SendMessageCommand).resolves({ MessageId: "sent" });
  sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
  store = new FakeIdempotencyStore();
});

function request(batchId = "b-1"): LabelRequest {
  return { schemaVersion: 1, batchId, items: [{ id: "t-1", text: "Love the colour" }, { id: "t-2", text: "Battery died" }] };
}

function message(body: LabelRequest | string, receiveCount = 1): Message {
  return {
    MessageId: `m-${Math.random()}`,
    ReceiptHandle: "rh",
    Body: typeof body === "string" ? body : JSON.stringify(body),
    Attributes: { ApproximateReceiveCount: String(receiveCount) },
  };
}

function resultFor(req: LabelRequest): LabelResult {
  return {
    schemaVersion: 1,
    batchId: req.batchId,
    status: "completed",
    taxonomy: "mini",
    promptVersion: "v1",
    promptHash: `sha256:${"0".repeat(64)}`,
    model: "llama3.3-70b",
    items: req.items.map((i) => ({ id: i.id, labels: { sentiment: "positive" }, source: "model", model: "meta.llama3-3-70b-instruct-v1:0", error: null })),
    usage: {
      modelCalls: 1,
      inputTokens: 100,
      outputTokens: 20,
      cacheReadInputTokens: 0,
      cacheWriteInputTokens: 0,
      reservedTokens: 200,
      perText: { inputTokens: 100, outputTokens: 20, reservedTokens: 200 },
      cacheHits: 0,
      costUsd: 0.001,
    },
    timing: { receivedAt: new Date().toISOString(), completedAt: new Date().toISOString(), durationMs: 1 },
    attributes: {},
  };
}

/** A LabelFn that counts its calls and answers with `answer`. */
function labeller(answer: (req: LabelRequest, signal: AbortSignal) => Promise<LabelResult> = (req) => Promise.resolve(resultFor(req))) {
  const calls: LabelRequest[] = [];
  const fn: LabelFn = (req, _receivedAt, signal) => {
    calls.push(req);
    return answer(req, signal);
  };
  return { fn, calls };
}

function handler(label: LabelFn, owner = "worker-a") {
  return createMessageHandler(settings, label, { sqs, logger: silentLogger(), idempotency: store, workerId: owner });
}

function sentTo(queueUrl: string) {
  return sqsMock.commandCalls(SendMessageCommand).filter((c) => c.args[0].input.QueueUrl === queueUrl).map((c) => c.args[0].input);
}

function visibilityChanges(): (number | undefined)[] {
  return sqsMock.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input.VisibilityTimeout);
}

/** Resolves when `signal` aborts; the way a long model call ends when its work is cancelled. */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason as Error);
    signal.addEventListener("abort", () => reject(signal.reason as Error), { once: true });
  });
}

describe("the message handler", () => {
  it("labels a batch, records it COMPLETED, publishes the result and acknowledges the message", async () => {
    const label = labeller();
    const handled = await handler(label.fn)(message(request()), new AbortController().signal);
    expect(handled).toEqual({ ack: true, outcome: "published" });
    expect(label.calls).toHaveLength(1);
    expect(store.records.get("b-1")?.status).toBe("COMPLETED");
    const [published] = sentTo(QUEUES.results);
    expect(JSON.parse(published?.MessageBody ?? "")).toMatchObject({ batchId: "b-1", status: "completed" });
  });

  it("republishes the stored result of a duplicate delivery of a completed batch without labelling again", async () => {
    const label = labeller();
    const handle = handler(label.fn);
    await handle(message(request()), new AbortController().signal);
    const again = await handle(message(request()), new AbortController().signal);
    expect(again).toEqual({ ack: true, outcome: "republished" });
    expect(label.calls).toHaveLength(1);
    const published = sentTo(QUEUES.results);
    expect(published).toHaveLength(2);
    expect(published[1]?.MessageBody).toBe(published[0]?.MessageBody);
  });

  it("defers a duplicate delivery while another worker holds the lease, until no later than the lease ends", async () => {
    const other = labeller(() => new Promise<never>(() => {}));
    void handler(other.fn, "worker-b")(message(request()), new AbortController().signal);
    await expect.poll(() => store.records.get("b-1")?.status).toBe("IN_PROGRESS");
    const label = labeller();
    const handled = await handler(label.fn)(message(request(), 3), new AbortController().signal);
    expect(handled).toEqual({ ack: false, outcome: "deferred" });
    expect(label.calls).toHaveLength(0);
    const [wait] = visibilityChanges();
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(settings.leaseS + 1);
  });

  it("stops the work and publishes nothing when another worker takes the lease over while it runs", async () => {
    const label = labeller((req, signal) => {
      store.takeOver(req.batchId);
      return untilAborted(signal);
    });
    const handled = await handler(label.fn)(message(request()), new AbortController().signal);
    expect(handled).toEqual({ ack: false, outcome: "lease-lost" });
    expect(sentTo(QUEUES.results)).toHaveLength(0);
    // The record belongs to the worker that took over: it is neither released nor completed.
    expect(store.records.get("b-1")).toMatchObject({ status: "IN_PROGRESS", owner: "other-worker" });
  });

  it("publishes nothing when the lease was lost between labelling and recording the result", async () => {
    const label = labeller((req) => {
      store.takeOver(req.batchId);
      return Promise.resolve(resultFor(req));
    });
    // Renewal would notice the loss; make it too slow to, so that complete() is the one that does.
    const slowRenew = createMessageHandler({ ...settings, leaseRenewS: 3_600 }, label.fn, { sqs, logger: silentLogger(), idempotency: store, workerId: "worker-a" });
    const handled = await slowRenew(message(request()), new AbortController().signal);
    expect(handled).toEqual({ ack: false, outcome: "lease-lost" });
    expect(sentTo(QUEUES.results)).toHaveLength(0);
  });

  it("rebuilds and publishes a completed batch whose result was too large to store", async () => {
    store.maxStoredResultBytes = 10;
    const label = labeller();
    const handle = handler(label.fn);
    expect((await handle(message(request()), new AbortController().signal)).outcome).toBe("published");
    expect(store.records.get("b-1")?.status).toBe("COMPLETED");
    expect(store.records.get("b-1")?.result).toBeUndefined();
    const again = await handle(message(request()), new AbortController().signal);
    expect(again).toEqual({ ack: true, outcome: "published" });
    expect(label.calls).toHaveLength(2);
    expect(sentTo(QUEUES.results)).toHaveLength(2);
  });

  it("retries a batch whose publish failed after it was recorded COMPLETED, and republishes it without labelling again", async () => {
    sqsMock.on(SendMessageCommand, { QueueUrl: QUEUES.results }).rejectsOnce(new Error("SQS is down")).resolves({ MessageId: "sent" });
    const label = labeller();
    const handle = handler(label.fn);
    const first = await handle(message(request()), new AbortController().signal);
    expect(first).toEqual({ ack: false, outcome: "retry-later" });
    expect(store.records.get("b-1")?.status).toBe("COMPLETED");
    expect(visibilityChanges()).toHaveLength(1);
    const again = await handle(message(request(), 2), new AbortController().signal);
    expect(again).toEqual({ ack: true, outcome: "republished" });
    expect(label.calls).toHaveLength(1);
  });

  it("processes without the guard when the batch records are unavailable", async () => {
    store.unavailable = true;
    const label = labeller();
    const handled = await handler(label.fn)(message(request()), new AbortController().signal);
    expect(handled).toEqual({ ack: true, outcome: "published" });
    expect(label.calls).toHaveLength(1);
  });

  it("dead-letters, rather than processing unguarded, when claiming fails for a reason other than the store being unavailable", async () => {
    store.failClaimWith = new TypeError("Cannot read properties of undefined (reading 'status')");
    const label = labeller();
    const handled = await handler(label.fn)(message(request()), new AbortController().signal);
    expect(handled).toEqual({ ack: true, outcome: "dead-lettered" });
    expect(label.calls).toHaveLength(0);
    const [dead] = sentTo(QUEUES.dlq);
    expect(dead?.MessageAttributes?.[DLQ_ATTRIBUTES.code]?.StringValue).toBe("UNEXPECTED_ERROR");
    expect(dead?.MessageAttributes?.[DLQ_ATTRIBUTES.reason]?.StringValue).toMatch(/TypeError: Cannot read properties of undefined/);
  });

  it("still processes unguarded when claiming fails with a StoreError", async () => {
    store.failClaimWith = new StoreError("DynamoDB timed out");
    const handled = await handler(labeller().fn)(message(request()), new AbortController().signal);
    expect(handled.outcome).toBe("published");
  });

  it("dead-letters a plain Error from the work as UNEXPECTED_ERROR with its reason, and releases the lease", async () => {
    const label = labeller(() => Promise.reject(new Error("template.md: unknown placeholder {{examples}}")));
    const handled = await handler(label.fn)(message(request()), new AbortController().signal);
    expect(handled).toEqual({ ack: true, outcome: "dead-lettered" });
    const [dead] = sentTo(QUEUES.dlq);
    expect(dead?.MessageAttributes?.[DLQ_ATTRIBUTES.code]?.StringValue).toBe("UNEXPECTED_ERROR");
    expect(dead?.MessageAttributes?.[DLQ_ATTRIBUTES.reason]?.StringValue).toMatch(/unknown placeholder \{\{examples\}\}/);
    expect(dead?.MessageAttributes?.[DLQ_ATTRIBUTES.batchId]?.StringValue).toBe("b-1");
    expect(store.records.has("b-1")).toBe(false);
  });

  it("makes a retryable failure visible again after a growing delay and releases the lease", async () => {
    const label = labeller(() => Promise.reject(new ModelCallError("MODEL_THROTTLED", "m", "slow down")));
    const handle = handler(label.fn);
    expect(await handle(message(request(), 1), new AbortController().signal)).toEqual({ ack: false, outcome: "retry-later" });
    expect(store.records.has("b-1")).toBe(false);
    expect(await handle(message(request(), 4), new AbortController().signal)).toEqual({ ack: false, outcome: "retry-later" });
    const [first, fourth] = visibilityChanges();
    expect(first).toBeLessThanOrEqual(settings.retryBaseDelayS);
    expect(fourth).toBeGreaterThanOrEqual(settings.retryBaseDelayS * 4);
    expect(sentTo(QUEUES.dlq)).toHaveLength(0);
  });

  describe("when every allowed model's daily token quota is spent", () => {
    const NOW = Date.parse("2026-11-30T06:00:00Z");
    // Only Date is faked, so "now" stands still while the lease timers run as usual.
    beforeEach(() => vi.useFakeTimers({ toFake: ["Date"], now: NOW }));
    afterEach(() => vi.useRealTimers());

    const quotaSpent = (resetsAt: number) => () =>
      Promise.reject(new ModelCallError("MODEL_QUOTA_EXHAUSTED", "meta.llama3-3-70b-instruct-v1:0", "no allowed model can run", { resetsAt }));

    it("holds the message until the quota resets, releases the lease, and neither deletes nor dead-letters it", async () => {
      const resetsAt = NOW + 3 * 3_600_000 + 400;
      const handled = await handler(labeller(quotaSpent(resetsAt)).fn)(message(request(), 7), new AbortController().signal);
      expect(handled).toEqual({ ack: false, outcome: "quota-hold" });
      expect(visibilityChanges()).toEqual([3 * 3_600 + 1]);
      expect(store.records.has("b-1")).toBe(false);
      expect(sentTo(QUEUES.dlq)).toHaveLength(0);
    });

    it("caps the hold below SQS's 12 h visibility limit when the quota resets later than that", async () => {
      const handled = await handler(labeller(quotaSpent(NOW + 30 * 3_600_000)).fn)(message(request()), new AbortController().signal);
      expect(handled).toEqual({ ack: false, outcome: "quota-hold" });
      expect(visibilityChanges()).toEqual([MAX_VISIBILITY_S - VISIBILITY_MARGIN_S]);
      expect(MAX_VISIBILITY_S).toBe(43_200);
      expect(sentTo(QUEUES.dlq)).toHaveLength(0);
    });

    it("counts the hold as outcome quota-hold in labelq_batches_total", async () => {
      const metrics = new Metrics({ defaultMetrics: false });
      const handle = createMessageHandler(settings, labeller(quotaSpent(NOW + 3_600_000)).fn, { sqs, logger: silentLogger(), idempotency: store, workerId: "worker-a", metrics });
      await handle(message(request()), new AbortController().signal);
      const { values } = await metrics.batches.get();
      expect(values.filter((v) => v.labels.outcome === "quota-hold").map((v) => v.value)).toEqual([1]);
      expect(values.filter((v) => v.labels.outcome === "retry-later")).toEqual([]);
    });

    it("waits at least the normal backoff when the quota is already due back", async () => {
      await handler(labeller(quotaSpent(NOW - 1_000)).fn)(message(request(), 4), new AbortController().signal);
      const [wait] = visibilityChanges();
      expect(wait).toBeGreaterThanOrEqual(settings.retryBaseDelayS * 4);
      expect(wait).toBeLessThanOrEqual(settings.retryBaseDelayS * 8);
    });
  });

  describe("as the one owner of the message's visibility", () => {
    const renewing: HandlerSettings = { ...settings, visibility: { timeoutS: 120, everyS: 0.01 } };

    it("extends the visibility while the batch runs, and stops when the batch is done", async () => {
      const label = labeller(async (req) => {
        await until(() => visibilityChanges().length >= 2, { what: "two visibility extensions" });
        return resultFor(req);
      });
      const handled = await createMessageHandler(renewing, label.fn, { sqs, logger: silentLogger(), idempotency: store, workerId: "worker-a" })(message(request()), new AbortController().signal);
      expect(handled).toEqual({ ack: true, outcome: "published" });
      expect(new Set(visibilityChanges())).toEqual(new Set([120]));
    });

    it("sets a quota hold only after the extension on the wire has come back, so no extension lands after the hold", async () => {
      const events: string[] = [];
      let openGate!: () => void;
      const gate = new Promise<void>((resolve) => (openGate = resolve));
      sqsMock.on(ChangeMessageVisibilityCommand).callsFake(async (input: { VisibilityTimeout?: number }) => {
        if (input.VisibilityTimeout !== 120) return void events.push(`set ${input.VisibilityTimeout}`);
        events.push("extend sent");
        await gate;
        events.push("extend done");
        return {};
      });
      let refused = false;
      const label = labeller(async () => {
        await until(() => events.includes("extend sent"), { what: "an extension on the wire" });
        refused = true;
        throw new ModelCallError("MODEL_QUOTA_EXHAUSTED", "meta.llama3-3-70b-instruct-v1:0", "no allowed model can run", { resetsAt: Date.now() + 3_600_000 });
      });
      const handling = createMessageHandler(renewing, label.fn, { sqs, logger: silentLogger(), idempotency: store, workerId: "worker-a" })(message(request()), new AbortController().signal);
      await until(() => refused, { what: "the model call refused" });
      // Give a handler that did not wait every chance to send its hold while the extension is out.
      for (let k = 0; k < 10; k++) await new Promise((r) => setImmediate(r));
      openGate();
      expect(await handling).toEqual({ ack: false, outcome: "quota-hold" });
      expect(events.at(-1)).toMatch(/^set 36\d\d$/);
      expect(events.indexOf("extend done")).toBeLessThan(events.findIndex((e) => e.startsWith("set ")));
      expect(events.filter((e) => e.startsWith("set "))).toHaveLength(1);
    });
  });

  it("returns the message to the queue at once when the worker stops mid-batch, whatever the work threw", async () => {
    const stop = new AbortController();
    const label = labeller((_req, signal) => {
      stop.abort();
      return untilAborted(signal);
    });
    const handled = await handler(label.fn)(message(request()), stop.signal);
    expect(handled).toEqual({ ack: false, outcome: "returned" });
    expect(visibilityChanges()).toEqual([0]);
    expect(store.records.has("b-1")).toBe(false);
    expect(sentTo(QUEUES.dlq)).toHaveLength(0);
  });

  it("dead-letters the same batchId with a different payload as BATCH_ID_CONFLICT", async () => {
    const handle = handler(labeller().fn);
    await handle(message(request()), new AbortController().signal);
    const changed = { ...request(), items: [{ id: "t-1", text: "something else" }] };
    expect((await handle(message(changed), new AbortController().signal)).outcome).toBe("dead-lettered");
    expect(sentTo(QUEUES.dlq)[0]?.MessageAttributes?.[DLQ_ATTRIBUTES.code]?.StringValue).toBe("BATCH_ID_CONFLICT");
  });

  it("dead-letters a body that is not JSON as INVALID_REQUEST without claiming", async () => {
    const handled = await handler(labeller().fn)(message("{nope"), new AbortController().signal);
    expect(handled.outcome).toBe("dead-lettered");
    expect(sentTo(QUEUES.dlq)[0]?.MessageAttributes?.[DLQ_ATTRIBUTES.code]?.StringValue).toBe("INVALID_REQUEST");
    expect(store.calls).toEqual([]);
  });

  it("dead-letters mode \"bulk\" on a worker without the bulk path as INVALID_REQUEST, without labelling it live", async () => {
    const label = labeller();
    const handled = await handler(label.fn)(message({ ...request(), mode: "bulk" }), new AbortController().signal);
    expect(handled.outcome).toBe("dead-lettered");
    const attributes = sentTo(QUEUES.dlq)[0]?.MessageAttributes;
    expect(attributes?.[DLQ_ATTRIBUTES.code]?.StringValue).toBe("INVALID_REQUEST");
    expect(attributes?.[DLQ_ATTRIBUTES.reason]?.StringValue).toMatch(/mode "bulk" is not available on this worker/);
    expect(label.calls).toHaveLength(0);
  });

  it("dead-letters an invalid request raised by the work, with its own code", async () => {
    const label = labeller(() => Promise.reject(new InvalidRequestError("model gpt-9 is not allowed", [], "MODEL_NOT_ALLOWED")));
    expect((await handler(label.fn)(message(request()), new AbortController().signal)).outcome).toBe("dead-lettered");
    expect(sentTo(QUEUES.dlq)[0]?.MessageAttributes?.[DLQ_ATTRIBUTES.code]?.StringValue).toBe("MODEL_NOT_ALLOWED");
  });
});
