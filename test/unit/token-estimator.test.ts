import { describe, expect, it } from "vitest";
import { findModel } from "../../src/core/models/model-registry.ts";
import { countTokens, promptTokens } from "../../src/core/models/token-estimator.ts";
import { PromptRegistry } from "../../src/core/prompts/prompt-registry.ts";
import { PROMPTS_DIR } from "../support/fakes.ts";

describe("countTokens", () => {
  it("counts Llama 3 tokens with the real tokenizer, without begin/end markers", () => {
    expect(countTokens("", { kind: "llama3" })).toBe(0);
    expect(countTokens("Hello world, boils fast!", { kind: "llama3" })).toBe(6);
  });

  it("counts a compact JSON answer far above characters / 4", () => {
    const answer = '{"i":1,"sp":"pos","t":"q","p":"dl","u":"h","e":"n","l":"en"}';
    expect(countTokens(answer, { kind: "llama3" })).toBeGreaterThan(Math.ceil(answer.length / 4));
  });

  it("scales an approximate count by its factor, rounding up", () => {
    const text = "The lid broke on day two.";
    const exact = countTokens(text, { kind: "llama3" });
    expect(countTokens(text, { kind: "approximate", basis: "llama3", factor: 1.2 })).toBe(Math.ceil(exact * 1.2));
  });

  it("gives the same count for a long text every time (remembered or not)", () => {
    const long = "Where is my order? It was due on Monday. ".repeat(200);
    const first = countTokens(long, { kind: "llama3" });
    expect(countTokens(long, { kind: "llama3" })).toBe(first);
    expect(first).toBeGreaterThan(1_000);
  });
});

describe("promptTokens", () => {
  it("measures the 25-dimension product-feedback prompt at about 8,000 Llama 3 tokens", async () => {
    const prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v1");
    const llama = promptTokens(findModel("llama3.3-70b")!, { system: prompt.system, user: "" });
    expect(llama).toBeGreaterThan(7_000);
    expect(llama).toBeLessThan(9_000);
    // Claude is approximated from the same count, erring high.
    expect(promptTokens(findModel("claude-sonnet")!, { system: prompt.system, user: "" })).toBeGreaterThan(llama);
  });
});
