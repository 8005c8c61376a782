import { describe, expect, it } from "vitest";
import { addUsage, answerUsage, noUsage } from "../../src/core/classify/usage.ts";
import { findModel, type ModelSpec } from "../../src/core/models/model-registry.ts";

function model(alias: string): ModelSpec {
  const spec = findModel(alias);
  if (!spec) throw new Error(`${alias} is not in the model registry`);
  return spec;
}

describe("answerUsage", () => {
  it("prices input and output at the model's list price, keeps the quota reserved, and counts no call (calls are counted per attempt)", () => {
    const llama = model("llama3.3-70b");
    const u = answerUsage(llama, { inputTokens: 1500, outputTokens: 400 }, 3548);
    expect(u).toEqual({ modelCalls: 0, inputTokens: 1500, outputTokens: 400, cacheReadInputTokens: 0, cacheWriteInputTokens: 0, reservedTokens: 3548, costUsd: u.costUsd });
    expect(u.costUsd).toBeCloseTo(1.5 * 0.00072 + 0.4 * 0.00072, 12);
  });

  it("prices prompt-cache reads and writes apart from other input", () => {
    const haiku = model("claude-haiku");
    const u = answerUsage(haiku, { inputTokens: 1000, outputTokens: 100, cacheReadInputTokens: 8000, cacheWriteInputTokens: 0 }, 9000);
    expect(u.cacheReadInputTokens).toBe(8000);
    // Claude Haiku 4.5 through its us. profile: list price + 10 %.
    expect(u.costUsd).toBeCloseTo(1.1 * (1 * 0.001 + 8 * 0.0001 + 0.1 * 0.005), 12);
  });
});

describe("addUsage", () => {
  it("adds field by field, with noUsage as the zero", () => {
    const a = { modelCalls: 1, inputTokens: 2, outputTokens: 3, cacheReadInputTokens: 4, cacheWriteInputTokens: 5, reservedTokens: 6, costUsd: 0.5 };
    const b = { modelCalls: 10, inputTokens: 20, outputTokens: 30, cacheReadInputTokens: 40, cacheWriteInputTokens: 50, reservedTokens: 60, costUsd: 0.25 };
    expect(addUsage(a, b)).toEqual({ modelCalls: 11, inputTokens: 22, outputTokens: 33, cacheReadInputTokens: 44, cacheWriteInputTokens: 55, reservedTokens: 66, costUsd: 0.75 });
    expect(addUsage(noUsage(), a)).toEqual(a);
  });
});
