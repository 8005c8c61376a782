import { ServiceUnavailableException, ThrottlingException, ValidationException } from "@aws-sdk/client-bedrock-runtime";
import { describe, expect, it } from "vitest";
import { converseResponse, toModelCallError } from "../../src/adapters/bedrock/bedrock-provider.ts";
import { addUsage, answerUsage, noUsage } from "../../src/core/classify/usage.ts";
import { costUsd, findModel } from "../../src/core/models/model-registry.ts";

const MODEL = "qwen.qwen3-32b-v1:0";
const $metadata = { httpStatusCode: 429 };

describe("toModelCallError on a call sent with a service tier", () => {
  it("marks a throttle or load shedding of a flex call as shed (still MODEL_THROTTLED, retryable)", () => {
    const throttled = toModelCallError(MODEL, new ThrottlingException({ message: "Too many requests, please wait before trying again.", $metadata }), Date.now(), "flex");
    const shed = toModelCallError(MODEL, new ServiceUnavailableException({ message: "Too many connections, please wait before trying again.", $metadata: { httpStatusCode: 503 } }), Date.now(), "flex");
    for (const e of [throttled, shed]) {
      expect(e).toMatchObject({ code: "MODEL_THROTTLED", retryable: true, shedTier: "flex" });
      expect(e.message).toMatch(/flex tier: shed under load/);
    }
  });

  it("leaves throttles on other tiers, and a flex call's other failures, unmarked", () => {
    expect(toModelCallError(MODEL, new ThrottlingException({ message: "slow down", $metadata }), Date.now(), "priority").shedTier).toBeUndefined();
    expect(toModelCallError(MODEL, new ThrottlingException({ message: "slow down", $metadata })).shedTier).toBeUndefined();
    const refused = toModelCallError(MODEL, new ValidationException({ message: "The provided service tier is not supported for this model", $metadata: { httpStatusCode: 400 } }), Date.now(), "flex");
    expect(refused).toMatchObject({ code: "MODEL_REJECTED_REQUEST", retryable: false, shedTier: undefined });
  });
});

describe("converseResponse's served tier", () => {
  const out = { output: { message: { role: "assistant" as const, content: [{ text: "1|p" }] } }, stopReason: "end_turn" as const, usage: { inputTokens: 10, outputTokens: 2, totalTokens: 12 } };
  it("is the response's serviceTier, else the tier sent, and none for a call sent without one", () => {
    expect(converseResponse({ ...out, serviceTier: { type: "default" } }, false, "flex").serviceTier).toBe("default");
    expect(converseResponse(out, false, "flex").serviceTier).toBe("flex");
    expect(converseResponse({ ...out, serviceTier: { type: "flex" } }, false, undefined).serviceTier).toBeUndefined();
  });
});

describe("usage by tier", () => {
  const qwen = findModel("qwen3-32b")!;
  const tokens = { inputTokens: 8_000, outputTokens: 2_000 };
  it("prices an answered call at its served tier and tallies calls and cost per tier, with fallbacks", () => {
    const flex = answerUsage(qwen, tokens, 9_000, { tier: "flex", fellBack: false });
    const fallback = answerUsage(qwen, tokens, 9_000, { tier: "default", fellBack: true });
    expect(flex.costUsd).toBeCloseTo(costUsd(qwen, 8_000, 2_000, undefined, "flex"), 12);
    const sum = addUsage(addUsage(noUsage(), flex), addUsage(fallback, flex));
    expect(sum.tiers?.flex).toEqual({ modelCalls: 2, costUsd: 2 * flex.costUsd });
    expect(sum.tiers?.default).toEqual({ modelCalls: 1, costUsd: fallback.costUsd });
    expect(sum.tierFallbacks).toBe(1);
  });

  it("keeps usage without tiers in its old shape", () => {
    const plain = addUsage(noUsage(), answerUsage(qwen, tokens, 9_000));
    expect(plain).not.toHaveProperty("tiers");
    expect(plain).not.toHaveProperty("tierFallbacks");
  });
});
