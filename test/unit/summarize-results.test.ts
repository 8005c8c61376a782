import { describe, expect, it } from "vitest";
import type { LabelResult, ResultItem } from "../../src/core/contracts/result.ts";
import { formatSummary, summarizeResults } from "../../src/app/demo/summarize-results.ts";

function result(batchId: string, status: LabelResult["status"], items: ResultItem[], usage: Partial<LabelResult["usage"]> = {}): LabelResult {
  return {
    schemaVersion: 1,
    batchId,
    status,
    taxonomy: "product-feedback",
    promptVersion: "v1",
    promptHash: `sha256:${"0".repeat(64)}`,
    model: "llama3-70b",
    items,
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
      ...usage,
    },
    timing: { receivedAt: "2026-11-25T12:00:00.000Z", completedAt: "2026-11-25T12:00:01.000Z", durationMs: 1000 },
    attributes: {},
  };
}

function labelled(id: string, labels: ResultItem["labels"]): ResultItem {
  return { id, labels, source: "model", model: "m", error: null };
}

function failed(id: string, code: NonNullable<ResultItem["error"]>["code"]): ResultItem {
  return { id, labels: null, source: null, model: null, error: { code, message: "x" } };
}

const results = [
  result("b1", "completed", [
    labelled("1", { sentiment: "positive", topics: ["price", "quality"], quality: 4, sarcasm: false }),
    labelled("2", { sentiment: "negative", topics: [], quality: null, sarcasm: true }),
  ], { modelCalls: 2, inputTokens: 300, outputTokens: 50, costUsd: 0.002 }),
  result("b2", "partial", [
    labelled("3", { sentiment: "positive", topics: ["price"], quality: 4, sarcasm: false }),
    failed("4", "INVALID_OUTPUT"),
    failed("5", "MISSING_FROM_OUTPUT"),
  ]),
  result("b3", "failed", [failed("6", "INVALID_OUTPUT")]),
];

describe("summarizeResults", () => {
  const s = summarizeResults(results);

  it("counts batches, texts, labelled texts, statuses and item errors", () => {
    expect(s.batches).toBe(3);
    expect(s.texts).toBe(6);
    expect(s.labelled).toBe(3);
    expect(s.statuses).toEqual({ completed: 1, partial: 1, failed: 1 });
    expect(s.itemErrors).toEqual({ INVALID_OUTPUT: 2, MISSING_FROM_OUTPUT: 1 });
  });

  it("adds up usage over all batches", () => {
    expect(s.modelCalls).toBe(4);
    expect(s.inputTokens).toBe(500);
    expect(s.outputTokens).toBe(90);
    expect(s.costUsd).toBeCloseTo(0.004, 12);
  });

  it("counts each label per dimension, every label of a multi list, null as unknown and an empty list as (none)", () => {
    expect(s.distribution).toEqual({
      sentiment: { positive: 2, negative: 1 },
      topics: { price: 2, quality: 1, "(none)": 1 },
      quality: { "4": 2, unknown: 1 },
      sarcasm: { false: 2, true: 1 },
    });
  });

  it("summarizes no results as zeros", () => {
    expect(summarizeResults([])).toMatchObject({ batches: 0, texts: 0, labelled: 0, costUsd: 0, distribution: {} });
  });
});

describe("formatSummary", () => {
  it("prints counts, errors, usage, throughput and each dimension's top labels as shares of labelled texts", () => {
    const text = formatSummary(summarizeResults(results), 2000, ["extra line"]);
    expect(text).toContain("batches 3 (completed 1, partial 1, failed 1)  texts 6  labelled 3");
    expect(text).toContain("item errors: INVALID_OUTPUT 2, MISSING_FROM_OUTPUT 1");
    expect(text).toContain("model calls 4  cache hits 0/6 (0%)");
    expect(text).toContain("tokens in 500 / out 90  per text in 83 / out 15.0");
    expect(text).toContain("($0.667 per 1,000 texts)");
    expect(text).toContain("throughput 3.0 texts/s");
    expect(text).toContain("extra line");
    expect(text).toMatch(/sentiment\s+positive 67%\s+negative 33%/);
  });
});
