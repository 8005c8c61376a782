import { describe, expect, it } from "vitest";
import { costUsd, findModel } from "../../src/llm/model-registry.ts";
import { countTokens } from "../../src/llm/token-estimator.ts";
import { estimateRun, formatEstimate } from "../../src/ops/estimate.ts";
import { PromptRegistry } from "../../src/prompts/prompt-registry.ts";
import { renderUserMessage } from "../../src/prompts/render-prompt.ts";
import { PROMPTS_DIR } from "../support/fakes.ts";

const texts = Array.from({ length: 130 }, (_, k) => ({ id: `t${k}`, text: `text number ${k} about a kettle that leaks` }));

describe("estimateRun", () => {
  it("counts batches and calls, and adds up tokens, quota and cost per model with the model's tokenizer", async () => {
    const prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v1");
    const e = estimateRun(texts, prompt, { batchSize: 50, chunkSize: 25 });
    expect(e.texts).toBe(130);
    expect(e.batches).toBe(3);
    // 50 + 50 + 30 texts in chunks of 25: 2 + 2 + 2 calls.
    const llama = e.models.find((m) => m.model.alias === "llama3.3-70b")!;
    expect(llama.calls).toBe(6);
    expect(e.systemPromptTokens).toBe(countTokens(prompt.system, { kind: "llama3" }));
    expect(llama.systemPromptTokens).toBe(e.systemPromptTokens);
    const userTokens = [25, 25, 25, 25, 25, 5].reduce((n, size, k) => {
      const start = [0, 25, 50, 75, 100, 125][k]!;
      return n + countTokens(renderUserMessage(texts.slice(start, start + size).map((t) => t.text)), { kind: "llama3" });
    }, 0);
    expect(llama.inputTokens).toBe(6 * e.systemPromptTokens + userTokens);
    expect(llama.costUsd).toBeCloseTo(costUsd(findModel("llama3.3-70b")!, llama.inputTokens, llama.outputTokens), 10);
    expect(llama.quotaTokens).toBe(llama.inputTokens + llama.outputTokens);
    // Claude's output burns the quota at 5x.
    const claude = e.models.find((m) => m.model.alias === "claude-sonnet")!;
    expect(claude.quotaTokens).toBe(claude.inputTokens + 5 * claude.outputTokens);
    // The real tokenizer counts more than characters / 4 for compact JSON.
    const example = /Shape: \{"r":\[(\{.*?\})/.exec(prompt.system)![1]!;
    expect(e.outputTokensPerText).toBeGreaterThan(Math.ceil((example.length + 1) / 4));
  });

  it("flags a model whose context cannot hold the prompt", async () => {
    const prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v1");
    const e = estimateRun(texts, prompt, { batchSize: 50, chunkSize: 50 });
    expect(e.models.find((m) => m.model.alias === "llama3-70b")?.fits).toBe(false);
    expect(e.models.find((m) => m.model.alias === "claude-haiku")?.fits).toBe(true);
    expect(formatEstimate(e, "product-feedback", "v1")).toMatch(/llama3-70b .*\(does not fit the model's context or output cap\)/);
  });

  it("estimates only the models it is given", async () => {
    const prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v1");
    const e = estimateRun(texts, prompt, { batchSize: 50, chunkSize: 50, models: [findModel("nova-lite")!] });
    expect(e.models.map((m) => m.model.alias)).toEqual(["nova-lite"]);
  });
});
