import { beforeAll, describe, expect, it } from "vitest";
import { answerBudget, answerTokensPerText, evenChunkSizes, maxTokensFor, OUTPUT_HEADROOM, SPREAD_Z, textsPerCallCap } from "../../src/core/classify/output-budget.ts";
import { countTokens } from "../../src/core/models/token-estimator.ts";
import { compactLabel, lineField } from "../../src/core/prompts/output-format.ts";
import { PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { loadGoldSet } from "../../src/app/eval/gold-set.ts";
import { PROMPTS_DIR, REPO_ROOT } from "../support/fakes.ts";

const LLAMA3 = { kind: "llama3" } as const;
let prompt: ResolvedPrompt;
beforeAll(async () => {
  prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v1");
});

describe("answerTokensPerText", () => {
  it("budgets a lines answer at a third of a JSON one on the 25-dimension taxonomy", () => {
    const lines = answerTokensPerText(prompt.taxonomy, LLAMA3, "lines");
    const json = answerTokensPerText(prompt.taxonomy, LLAMA3, "json");
    expect(lines).toBeLessThanOrEqual(Math.ceil(1.6 * prompt.taxonomy.dimensions.length));
    expect(lines * 2.5).toBeLessThan(json);
  });

  it("budgets lines at or above what the gold set's labels cost written as lines, on average and for 95 % of texts", async () => {
    const gold = await loadGoldSet(`${REPO_ROOT}/eval/gold/product-feedback.jsonl`, prompt.taxonomy);
    const costs = gold.map((g, k) =>
      countTokens(`${[k + 1, ...prompt.taxonomy.dimensions.map((d) => lineField(d, compactLabel(d, g.labels[d.key] ?? null)))].join(" ")}\n`, LLAMA3),
    );
    const budget = answerTokensPerText(prompt.taxonomy, LLAMA3, "lines");
    const sorted = [...costs].sort((a, b) => a - b);
    expect(costs.reduce((a, b) => a + b, 0) / costs.length).toBeLessThan(budget);
    expect(sorted[Math.floor(sorted.length * 0.95)]).toBeLessThanOrEqual(budget);
  });
});

describe("chunk sizing", () => {
  it("fits a 50-text batch of the 25-dimension taxonomy in one Llama 3.3 call (2,048 output tokens) in lines, not in JSON", () => {
    expect(textsPerCallCap(answerBudget(prompt.taxonomy, LLAMA3, "lines"), 2048, "lines")).toBeGreaterThanOrEqual(50);
    expect(textsPerCallCap(answerBudget(prompt.taxonomy, LLAMA3, "json"), 2048, "json")).toBeLessThan(20);
  });

  it("sizes maxTokens with the format's headroom, the chunk's spread and the per-call room, never above the cap", () => {
    expect(maxTokensFor(10, { perText: 38, perCall: 26, spread: 0 }, 2048, "lines")).toBe(Math.ceil(10 * 38 * OUTPUT_HEADROOM.lines) + 26);
    expect(maxTokensFor(16, { perText: 38, perCall: 26, spread: 2 }, 2048, "lines")).toBe(16 * 38 + SPREAD_Z * 2 * 4 + 26);
    expect(maxTokensFor(10, { perText: 115, perCall: 16, spread: 0 }, 2048, "json")).toBe(Math.ceil(10 * 115 * OUTPUT_HEADROOM.json) + 16);
    expect(maxTokensFor(100, { perText: 115, perCall: 16, spread: 0 }, 2048, "json")).toBe(2048);
  });

  it("gives lines answers a spread from their fields' values and JSON none (budgeted at its longest)", () => {
    const lines = answerBudget(prompt.taxonomy, LLAMA3, "lines");
    // 25 fields of one or two tokens, and a multi-choice field of up to three labels.
    expect(lines.spread).toBeGreaterThan(1);
    expect(lines.spread).toBeLessThan(5);
    expect(answerBudget(prompt.taxonomy, LLAMA3, "json").spread).toBe(0);
    // The spread costs reservation, never a call: 50 texts still fit one Llama 3.3 call.
    expect(maxTokensFor(50, lines, 2048, "lines")).toBeLessThan(2048);
    expect(maxTokensFor(50, lines, 2048, "lines")).toBeGreaterThan(50 * lines.perText + lines.perCall);
  });

  it("leaves room in a one-text call for the longest line a text can get, with a prose lead-in and a code fence", () => {
    const budget = answerBudget(prompt.taxonomy, LLAMA3, "lines");
    const longest = `12 ${prompt.taxonomy.dimensions
      .map((d) => (d.kind === "single" ? [...d.labels].sort((a, b) => countTokens(` ${b.code}`, LLAMA3) - countTokens(` ${a.code}`, LLAMA3))[0]!.code : d.kind === "multi" ? d.labels.slice(0, d.maxItems).map((l) => l.code).join("+") : d.kind === "scale" ? String(d.max) : "y"))
      .join(" ")}\n`;
    const wrapped = `Here are the labels:\n\n\`\`\`\n${longest}\`\`\``;
    expect(maxTokensFor(1, budget, 2048, "lines")).toBeGreaterThanOrEqual(countTokens(wrapped, LLAMA3));
  });

  it("splits texts into calls as evenly as the cap allows", () => {
    expect(evenChunkSizes(50, 48)).toEqual([25, 25]);
    expect(evenChunkSizes(50, 50)).toEqual([50]);
    expect(evenChunkSizes(7, 3)).toEqual([3, 2, 2]);
    expect(evenChunkSizes(0, 3)).toEqual([]);
    expect(evenChunkSizes(5, 0)).toEqual([1, 1, 1, 1, 1]);
  });
});
