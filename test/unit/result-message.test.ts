import { describe, expect, it } from "vitest";
import { batchStatus, errorItem, missingItem, resultMessage, type ResultMessageInput } from "../../src/core/classify/result-message.ts";
import { resultSchema } from "../../src/core/contracts/result.ts";

const labelled = { id: "a", labels: { sentiment_polarity: "positive" }, source: "model" as const, model: "m", error: null };

function input(overrides: Partial<ResultMessageInput> = {}): ResultMessageInput {
  return {
    request: { batchId: "b-1" },
    taxonomy: "product-feedback",
    promptVersion: "v1",
    promptHash: `sha256:${"0".repeat(64)}`,
    model: "llama3.3-70b",
    items: [labelled, missingItem("b")],
    usage: { modelCalls: 2, inputTokens: 300, outputTokens: 41, cacheReadInputTokens: 100, cacheWriteInputTokens: 0, reservedTokens: 900, costUsd: 0.00123456789 },
    cacheHits: 1,
    sentToModel: 2,
    receivedAt: new Date("2026-11-25T12:00:00.000Z"),
    completedAt: new Date("2026-11-25T12:00:01.250Z"),
    ...overrides,
  };
}

describe("resultMessage: the one writer of the result contract", () => {
  it("writes a message the schema reads back unchanged, fields in the schema's order", () => {
    const message = resultMessage(input());
    const parsed = resultSchema.parse(JSON.parse(JSON.stringify(message)));
    expect(JSON.stringify(parsed)).toBe(JSON.stringify(message));
    expect(Object.keys(message)).toEqual(Object.keys(resultSchema.shape));
    // tiers and tierFallbacks are written only for a batch sent with a service tier; this one had none.
    const untiered = Object.keys(resultSchema.shape.usage.shape).filter((k) => k !== "tiers" && k !== "tierFallbacks");
    expect(Object.keys(message.usage)).toEqual(untiered);
  });

  it("derives status, per-text usage, rounded cost, timing and attributes", () => {
    const message = resultMessage(input({ request: { batchId: "b-1", attributes: { k: "v" } } }));
    expect(message.status).toBe("partial");
    expect(message.usage).toMatchObject({ costUsd: 0.001235, cacheHits: 1, perText: { inputTokens: 200, outputTokens: 20.5, reservedTokens: 450 } });
    expect(message.timing).toEqual({ receivedAt: "2026-11-25T12:00:00.000Z", completedAt: "2026-11-25T12:00:01.250Z", durationMs: 1250 });
    expect(message.attributes).toEqual({ k: "v" });
    expect(resultMessage(input()).attributes).toEqual({});
    // Nothing sent: per-text figures are 0, not a division by zero.
    expect(resultMessage(input({ sentToModel: 0 })).usage.perText).toEqual({ inputTokens: 0, outputTokens: 0, reservedTokens: 0 });
  });

  it("never reports a negative duration when the clock steps back", () => {
    expect(resultMessage(input({ completedAt: new Date("2026-11-25T11:59:59.000Z") })).timing.durationMs).toBe(0);
  });

  it("calls a batch completed with no item errors, failed with only item errors, partial otherwise", () => {
    expect(batchStatus([labelled])).toBe("completed");
    expect(batchStatus([missingItem("a"), errorItem("b", "TEXT_EMPTY", "empty")])).toBe("failed");
    expect(batchStatus([labelled, errorItem("b", "MODEL_ERROR", "x")])).toBe("partial");
  });
});
