import { describe, expect, it } from "vitest";
import { ModelCatalogue, PACKAGED_CATALOGUE, readCatalogueFile } from "../../src/core/models/model-catalogue.ts";
import { MODELS, costUsd, findModel } from "../../src/core/models/model-registry.ts";

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

  it("keeps the capability flags consistent: tool-forced structured output needs a forced tool, cache prices need prompt caching", () => {
    for (const m of MODELS) {
      if (m.capabilities.structuredOutput === "tool") expect(m.capabilities.forcedTool, m.alias).toBe(true);
      if (m.capabilities.forcedTool) expect(m.capabilities.toolUse, m.alias).toBe(true);
      const hasCachePrices = m.price.cacheReadPer1k !== undefined && m.price.cacheWritePer1k !== undefined;
      expect(hasCachePrices, m.alias).toBe(m.capabilities.promptCache);
    }
    expect(findModel("claude-sonnet")?.capabilities.structuredOutput).toBe("tool");
    expect(findModel("claude-haiku")?.capabilities.structuredOutput).toBe("tool");
    // Llama 3 70B has no tool use; Llama 3.3 rejects a forced toolChoice.
    expect(findModel("llama3-70b")?.capabilities.structuredOutput).toBe("none");
    expect(findModel("llama3.3-70b")?.capabilities.structuredOutput).toBe("none");
  });

  it("prices Claude's cache reads at 10% and writes at 125% of the input price, with a source and date for every model", () => {
    for (const alias of ["claude-sonnet", "claude-haiku"]) {
      const { price } = findModel(alias)!;
      expect(price.cacheReadPer1k, alias).toBeCloseTo(price.inputPer1k * 0.1, 12);
      expect(price.cacheWritePer1k, alias).toBeCloseTo(price.inputPer1k * 1.25, 12);
    }
    // The us. profile costs 10 % more than the global one for Claude 4.5.
    expect(findModel("claude-sonnet")?.price.cacheReadPer1k).toBeCloseTo(0.00033, 12);
    expect(findModel("claude-sonnet")?.price.cacheWritePer1k).toBeCloseTo(0.004125, 12);
    for (const m of MODELS) {
      expect(m.price.asOf, m.alias).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(m.price.source, m.alias).toContain("aws.amazon.com/bedrock/pricing");
    }
  });

  it("adds cache reads and writes to the uncached input, each at its own price", () => {
    const m = new ModelCatalogue(readCatalogueFile(PACKAGED_CATALOGUE), "global").find("claude-sonnet")!;
    expect(m).toBeTruthy();
    if (!m) return;
    // Bedrock reports cached tokens apart from inputTokens, so nothing is subtracted.
    expect(costUsd(m, 0, 0, { readTokens: 1000 })).toBeCloseTo(0.0003, 12);
    expect(costUsd(m, 0, 0, { writeTokens: 1000 })).toBeCloseTo(0.00375, 12);
    expect(costUsd(m, 2000, 500, { readTokens: 8000, writeTokens: 0 })).toBeCloseTo(2 * 0.003 + 8 * 0.0003 + 0.5 * 0.015, 12);
    expect(costUsd(m, 2000, 500, { readTokens: 0, writeTokens: 8000 })).toBeCloseTo(2 * 0.003 + 8 * 0.00375 + 0.5 * 0.015, 12);
    // Without cache tokens, or with an empty record, the cost is the plain one.
    expect(costUsd(m, 2000, 500, {})).toBe(costUsd(m, 2000, 500));
    expect(costUsd(m, 2000, 500, { readTokens: 0, writeTokens: 0 })).toBe(costUsd(m, 2000, 500));
    // A cache read of the whole prompt costs a tenth of sending it uncached; the first write a quarter more.
    const haiku = findModel("claude-haiku")!;
    expect(costUsd(haiku, 0, 0, { readTokens: 10_000 }) / costUsd(haiku, 10_000, 0)).toBeCloseTo(0.1, 12);
    expect(costUsd(haiku, 0, 0, { writeTokens: 10_000 }) / costUsd(haiku, 10_000, 0)).toBeCloseTo(1.25, 12);
  });

  it("charges cache tokens as ordinary input on a model without cache prices", () => {
    const m = findModel("llama3.3-70b")!;
    expect(costUsd(m, 1000, 0, { readTokens: 1000, writeTokens: 1000 })).toBeCloseTo(3 * 0.00072, 12);
  });
});
