import { describe, expect, it } from "vitest";
import { MODELS, costUsd, findModel } from "../../src/llm/model-registry.ts";

describe("model registry", () => {
  it("finds a model by alias, and nothing for an unknown alias", () => {
    expect(findModel("llama3-70b")?.modelId).toBe("meta.llama3-70b-instruct-v1:0");
    expect(findModel("gpt-4")).toBeUndefined();
    expect(findModel("toString")).toBeUndefined();
  });

  it("has unique aliases and sane limits", () => {
    expect(new Set(MODELS.map((m) => m.alias)).size).toBe(MODELS.length);
    for (const m of MODELS) {
      expect(m.maxOutputTokens, m.alias).toBeLessThanOrEqual(m.contextTokens);
      expect(m.price.inputPer1k, m.alias).toBeGreaterThan(0);
    }
  });

  it("prices input and output tokens per 1,000 at the list price", () => {
    const m = findModel("llama3-70b");
    expect(m).toBeDefined();
    if (!m) return;
    expect(costUsd(m, 1000, 0)).toBeCloseTo(0.00265, 12);
    expect(costUsd(m, 0, 1000)).toBeCloseTo(0.0035, 12);
    expect(costUsd(m, 2500, 500)).toBeCloseTo(2.5 * 0.00265 + 0.5 * 0.0035, 12);
    expect(costUsd(m, 0, 0)).toBe(0);
  });
});
