import { describe, expect, it } from "vitest";
import { resultSchema } from "../../src/core/contracts/result.ts";

const base = {
  schemaVersion: 1,
  batchId: "b-1",
  status: "completed",
  taxonomy: "product-feedback",
  promptVersion: "v1",
  promptHash: `sha256:${"0".repeat(64)}`,
  model: "llama3.3-70b",
  items: [{ id: "a", labels: { sentiment_polarity: "positive" }, source: "model", model: "us.meta.llama3-3-70b-instruct-v1:0", error: null }],
  timing: { receivedAt: "2026-11-25T12:00:00.000Z", completedAt: "2026-11-25T12:00:01.000Z", durationMs: 1000 },
  attributes: {},
};

describe("result contract v1", () => {
  it("still reads a result written before usage had reserved tokens and per-text figures", () => {
    const old = { ...base, usage: { modelCalls: 1, inputTokens: 100, outputTokens: 20, cacheReadInputTokens: 0, cacheWriteInputTokens: 0, cacheHits: 0, costUsd: 0.001 } };
    const parsed = resultSchema.parse(old);
    expect(parsed.usage.reservedTokens).toBe(0);
    expect(parsed.usage.perText).toBeUndefined();
  });

  it("reads reserved tokens and per-text figures when they are there, and refuses negative ones", () => {
    const usage = { modelCalls: 1, inputTokens: 100, outputTokens: 20, cacheReadInputTokens: 0, cacheWriteInputTokens: 0, cacheHits: 0, costUsd: 0.001 };
    const perText = { inputTokens: 100, outputTokens: 20, reservedTokens: 150 };
    expect(resultSchema.parse({ ...base, usage: { ...usage, reservedTokens: 150, perText } }).usage).toMatchObject({ reservedTokens: 150, perText });
    expect(resultSchema.safeParse({ ...base, usage: { ...usage, reservedTokens: -1 } }).success).toBe(false);
  });
});
