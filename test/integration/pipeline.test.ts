import { afterEach, describe, expect, it } from "vitest";
import { DLQ_ATTRIBUTES } from "../../src/adapters/sqs/sqs-messages.ts";
import { makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

describe("the pipeline, end to end over the wire", () => {
  it("labels a batch and publishes a valid result with every item labelled", async () => {
    pipeline = await startPipeline();
    pipeline.startWorker();
    const request = makeRequest(40, { attributes: { tenant: "team-a" } });
    await pipeline.send(request);

    const [result] = await pipeline.results(1);
    expect(result?.batchId).toBe(request.batchId);
    expect(result?.status).toBe("completed");
    expect(result?.items.map((i) => i.id)).toEqual(request.items.map((i) => i.id));
    expect(result?.items.every((i) => i.error === null && i.labels !== null && i.source === "model")).toBe(true);
    expect(Object.keys(result?.items[0]?.labels ?? {})).toContain("sentiment_polarity");
    expect(result?.attributes).toEqual({ tenant: "team-a" });
    expect(result?.promptVersion).toBe("v1");
    expect(result?.promptHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(result?.usage.modelCalls).toBeGreaterThanOrEqual(1);
    expect(result?.usage.inputTokens).toBeGreaterThan(0);
    expect(pipeline.emulator.stats().calls).toBe(result?.usage.modelCalls);
    // The request was deleted only after the result went out: nothing is left to redeliver.
    expect(await pipeline.drain(pipeline.queues.requests, 1, 2_000)).toHaveLength(0);
  });

  it("sends an invalid message to the DLQ with its reason, once, and keeps consuming", async () => {
    pipeline = await startPipeline();
    pipeline.startWorker();
    const bad = makeRequest(3);
    bad.items[2] = { id: "t-1", text: "duplicate id" };
    await pipeline.send("this is not json");
    await pipeline.send(bad);
    const good = makeRequest(5);
    await pipeline.send(good);

    const dead = await pipeline.drain(pipeline.queues.dlq, 2);
    expect(dead).toHaveLength(2);
    const byBody = new Map(dead.map((m) => [m.Body, m.MessageAttributes ?? {}]));
    const notJson = byBody.get("this is not json");
    expect(notJson?.[DLQ_ATTRIBUTES.code]?.StringValue).toBe("INVALID_REQUEST");
    expect(notJson?.[DLQ_ATTRIBUTES.reason]?.StringValue).toMatch(/not JSON/);
    const dup = dead.find((m) => m.Body !== "this is not json");
    expect(dup?.MessageAttributes?.[DLQ_ATTRIBUTES.reason]?.StringValue).toMatch(/duplicate item id "t-1"/);
    expect(dup?.MessageAttributes?.[DLQ_ATTRIBUTES.batchId]?.StringValue).toBe(bad.batchId);
    expect(dup?.MessageAttributes?.[DLQ_ATTRIBUTES.receiveCount]?.StringValue).toBe("1");

    const results = await pipeline.results(1);
    expect(results[0]?.batchId).toBe(good.batchId);
    // Never retried in a loop: no further copies, nothing left on the requests queue, no model call for them.
    expect(await pipeline.drain(pipeline.queues.dlq, 1, 2_000)).toHaveLength(0);
    expect(await pipeline.drain(pipeline.queues.requests, 1, 1_000)).toHaveLength(0);
    expect(pipeline.emulator.stats().calls).toBe(results[0]?.usage.modelCalls);
  });

  it("labels a batch with an over-long and an empty text, giving those two item errors, and dead-letters nothing", async () => {
    pipeline = await startPipeline();
    pipeline.startWorker();
    const request = makeRequest(29);
    request.items[3] = { id: request.items[3]!.id, text: "" };
    request.items[28] = { id: request.items[28]!.id, text: "Far too long. ".repeat(1_500) };
    await pipeline.send(request);

    const [result] = await pipeline.results(1);
    expect(result?.batchId).toBe(request.batchId);
    expect(result?.status).toBe("partial");
    const errors = result?.items.filter((it) => it.error !== null).map((it) => [it.id, it.error?.code]);
    expect(errors).toEqual([
      [request.items[3].id, "TEXT_EMPTY"],
      [request.items[28].id, "TEXT_TOO_LONG"],
    ]);
    expect(result?.items.filter((it) => it.labels !== null)).toHaveLength(27);
    expect(await pipeline.drain(pipeline.queues.dlq, 1, 1_000)).toHaveLength(0);
  });

  it("dead-letters a replyTo outside the allow-list and honours one inside it", async () => {
    pipeline = await startPipeline();
    const teamQueue = pipeline.queues.results.replace(/results$/, "dlq"); // any existing queue the test can read
    pipeline.startWorker({ LABELQ_REPLY_TO_ALLOWLIST: teamQueue });
    const outside = makeRequest(2, { replyTo: "https://sqs.us-east-1.amazonaws.com/123456789012/attacker" });
    await pipeline.send(outside);
    const inside = makeRequest(2, { replyTo: teamQueue });
    await pipeline.send(inside);

    const onTeamQueue = await pipeline.drain(teamQueue, 2);
    const bodies = onTeamQueue.map((m) => JSON.parse(m.Body ?? "{}") as { batchId?: string; status?: string });
    const deadLettered = onTeamQueue.find((m) => m.MessageAttributes?.[DLQ_ATTRIBUTES.code]?.StringValue === "REPLY_TO_NOT_ALLOWED");
    expect(deadLettered).toBeDefined();
    expect(bodies.some((b) => b.batchId === inside.batchId && b.status === "completed")).toBe(true);
  });

  it("dead-letters a request naming an unknown taxonomy or a model that is not allowed", async () => {
    pipeline = await startPipeline();
    pipeline.startWorker();
    await pipeline.send(makeRequest(2, { taxonomy: "no-such-taxonomy" }));
    await pipeline.send(makeRequest(2, { model: "claude-sonnet" }));
    const dead = await pipeline.drain(pipeline.queues.dlq, 2);
    const codes = dead.map((m) => m.MessageAttributes?.[DLQ_ATTRIBUTES.code]?.StringValue).sort();
    expect(codes).toEqual(["MODEL_NOT_ALLOWED", "TAXONOMY_NOT_FOUND"]);
    expect(pipeline.emulator.stats().calls).toBe(0);
  });

  it("labels with a second taxonomy chosen by the request", async () => {
    pipeline = await startPipeline();
    pipeline.startWorker();
    await pipeline.send(makeRequest(6, { taxonomy: "support-triage", promptVersion: "v1" }));
    const [result] = await pipeline.results(1);
    expect(result?.status).toBe("completed");
    expect(result?.taxonomy).toBe("support-triage");
    expect(Object.keys(result?.items[0]?.labels ?? {}).sort()).toEqual(["category", "needs_human", "priority", "products_mentioned"]);
  });

  it("works on FIFO queues: results and DLQ entries carry group and deduplication ids", async () => {
    pipeline = await startPipeline({ fifo: true });
    pipeline.startWorker();
    const request = makeRequest(3);
    await pipeline.send(request);
    await pipeline.send("{}");
    const [result] = await pipeline.results(1);
    expect(pipeline.queues.results).toMatch(/\.fifo$/);
    expect(result?.batchId).toBe(request.batchId);
    expect(result?.status).toBe("completed");
    const dead = await pipeline.drain(pipeline.queues.dlq, 1);
    expect(dead[0]?.MessageAttributes?.[DLQ_ATTRIBUTES.code]?.StringValue).toBe("INVALID_REQUEST");
  });
});
