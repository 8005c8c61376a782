import { describe, expect, it } from "vitest";
import { formatLiveVsBulk, liveVsBulk } from "../../src/app/ops/bulk-estimate.ts";
import { estimateRun } from "../../src/app/ops/estimate.ts";
import { findModel } from "../../src/core/models/model-registry.ts";
import { PromptRegistry } from "../../src/core/prompts/prompt-registry.ts";
import { PROMPTS_DIR } from "../support/fakes.ts";

describe("liveVsBulk", () => {
  it("prices the same tokens at batch prices, half of on-demand, and says which models have no batch inference", async () => {
    const prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "prod");
    const texts = Array.from({ length: 10_000 }, (_, k) => ({ id: `t${k}`, text: `text number ${k} about a kettle` }));
    const estimate = estimateRun(texts, prompt, { batchSize: 50, chunkSize: 50, models: [findModel("llama3.3-70b")!, findModel("llama3-70b")!] });
    const rows = liveVsBulk(estimate, { quotaFor: () => ({ rpm: 800, tpm: 300_000 }), gatherS: 900, turnaroundS: 21_600, maxRecordsPerJob: 50_000 });
    const [llama33, llama3] = rows;
    expect(llama33?.bulkCostUsd).toBeCloseTo((llama33?.liveCostUsd ?? 0) / 2, 6);
    expect(llama33).toMatchObject({ bulkSeconds: 22_500, jobs: 1, belowMinimum: false });
    expect(llama33?.liveSeconds).toBeGreaterThan(0);
    expect(llama3?.bulkCostUsd).toBeUndefined();
    const text = formatLiveVsBulk(rows, estimate.texts);
    expect(text).toContain("no batch inference");
    expect(text).toContain("6.3 h");
  });
});
