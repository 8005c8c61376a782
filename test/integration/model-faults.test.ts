import { afterEach, describe, expect, it } from "vitest";
import type { FaultKind } from "@labelq/bedrock-emulator";
import { DLQ_ATTRIBUTES } from "../../src/adapters/sqs/sqs-messages.ts";
import { OUTPUT_FORMATS, type OutputFormat } from "../../src/core/prompts/output-format.ts";
import { jsonCatalogue } from "../support/catalogue-files.ts";
import { makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

// Faults the classifier salvages within one delivery, per answer format: re-asking or repairing gives every text valid labels.
const recoverable: Record<OutputFormat, FaultKind[]> = {
  json: ["trailing-comma", "missing-bracket", "prose", "code-fence", "truncate", "missing-ids", "extra-ids", "invalid-labels", "empty"],
  lines: ["missing-field", "broken-line", "extra-separator", "prose", "code-fence", "truncate", "missing-ids", "extra-ids", "invalid-labels", "empty"],
};
// Faults that leave some texts without valid labels: only those are asked again, in a second call.
const reasked = new Set<FaultKind>(["truncate", "missing-ids", "invalid-labels", "empty", "missing-field", "broken-line"]);

describe.each(OUTPUT_FORMATS)("Bedrock emulator faults end in a valid result, never a crash or a lost message (%s answers)", (format) => {
  for (const kind of recoverable[format]) {
    it(`recovers from a "${kind}" answer`, async () => {
      pipeline = await startPipeline({ emulator: { faults: [{ kind, times: 1 }] }, env: format === "json" ? { LABELQ_MODEL_CATALOGUE: jsonCatalogue() } : {} });
      pipeline.startWorker();
      const request = makeRequest(12);
      await pipeline.send(request);
      const [result] = await pipeline.results(1);
      expect(result?.status).toBe("completed");
      expect(result?.items.map((i) => i.id)).toEqual(request.items.map((i) => i.id));
      expect(result?.items.every((i) => i.labels !== null && i.error === null)).toBe(true);
      expect(pipeline.emulator.stats().faultsInjected[kind]).toBe(1);
      if (reasked.has(kind)) {
        // Only the damaged texts were asked for again, in a second call.
        expect(result?.usage.modelCalls).toBe(2);
      }
    });
  }
});

describe("Bedrock emulator faults: partial results, extra ids, outages", () => {
  it("gives a text whose labels stay invalid a per-item error and the batch status partial", async () => {
    pipeline = await startPipeline({ emulator: { faults: [{ kind: "invalid-labels" }] }, env: { LABELQ_MAX_REASK_ROUNDS: "2", LABELQ_FALLBACK_MODELS: "none" } });
    pipeline.startWorker();
    const request = makeRequest(10);
    await pipeline.send(request);
    const [result] = await pipeline.results(1);
    expect(result?.status).toBe("partial");
    const failed = result?.items.filter((i) => i.error !== null) ?? [];
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBeLessThan(10);
    expect(failed.every((i) => i.error?.code === "INVALID_OUTPUT" && i.labels === null)).toBe(true);
    expect(result?.usage.modelCalls).toBe(3);
  });

  it("never lets an extra id into a result", async () => {
    pipeline = await startPipeline({ emulator: { faults: [{ kind: "extra-ids" }] } });
    pipeline.startWorker();
    const request = makeRequest(5);
    await pipeline.send(request);
    const [result] = await pipeline.results(1);
    expect(result?.items.map((i) => i.id)).toEqual(request.items.map((i) => i.id));
  });

  it("rides out a transient throttle or outage with the SDK's retries", async () => {
    pipeline = await startPipeline({ emulator: { faults: [{ kind: "throttle", times: 1 }, { kind: "unavailable", times: 1 }] } });
    pipeline.startWorker();
    await pipeline.send(makeRequest(5));
    const [result] = await pipeline.results(1);
    expect(result?.status).toBe("completed");
    expect(pipeline.emulator.stats().throttled).toBe(1);
  });

  it("puts a batch whose model stays down back on the queue with a delay, then the redrive policy moves it to the DLQ", async () => {
    pipeline = await startPipeline({
      emulator: { faults: [{ kind: "unavailable" }] },
      env: { LABELQ_MODEL_MAX_ATTEMPTS: "1", LABELQ_RETRY_BASE_DELAY_S: "1", LABELQ_FALLBACK_MODELS: "none" },
      maxReceiveCount: 2,
    });
    pipeline.startWorker();
    const request = makeRequest(3);
    await pipeline.send(request);
    const [dead] = await pipeline.drain(pipeline.queues.dlq, 1);
    expect(JSON.parse(dead?.Body ?? "{}")).toMatchObject({ batchId: request.batchId });
    // Moved by SQS (redrive), not by labelq: no labelq reason attribute, and exactly maxReceiveCount attempts.
    expect(dead?.MessageAttributes?.[DLQ_ATTRIBUTES.code]).toBeUndefined();
    expect(pipeline.emulator.stats().calls).toBe(2);
    expect(await pipeline.drain(pipeline.queues.results, 1, 1_000)).toHaveLength(0);
  });

  it("dead-letters a batch the model rejects outright (not retryable), after one call", async () => {
    pipeline = await startPipeline({ emulator: { faults: [{ kind: "validation" }] }, env: { LABELQ_FALLBACK_MODELS: "none" } });
    pipeline.startWorker();
    const request = makeRequest(4);
    await pipeline.send(request);
    const [dead] = await pipeline.drain(pipeline.queues.dlq, 1);
    expect(dead?.MessageAttributes?.[DLQ_ATTRIBUTES.code]?.StringValue).toBe("MODEL_REJECTED_REQUEST");
    expect(dead?.MessageAttributes?.[DLQ_ATTRIBUTES.reason]?.StringValue).toMatch(/ValidationException/);
    expect(JSON.parse(dead?.Body ?? "{}")).toEqual(request);
    expect(pipeline.emulator.stats().calls).toBe(1);
    expect(await pipeline.drain(pipeline.queues.results, 1, 1_000)).toHaveLength(0);
  });

  it("keeps the texts of chunks the model answered when it rejects one chunk: status partial", async () => {
    pipeline = await startPipeline({ emulator: { faults: [{ kind: "validation", times: 1 }] }, env: { LABELQ_CHUNK_SIZE: "5", LABELQ_FALLBACK_MODELS: "none" } });
    pipeline.startWorker({ LABELQ_LIMITER_MAX_CONCURRENT: "1" });
    const request = makeRequest(10);
    await pipeline.send(request);
    const [result] = await pipeline.results(1);
    expect(result?.status).toBe("partial");
    expect(result?.items.filter((i) => i.error?.code === "MODEL_REJECTED_REQUEST")).toHaveLength(5);
    expect(result?.items.filter((i) => i.labels !== null)).toHaveLength(5);
  });
});
