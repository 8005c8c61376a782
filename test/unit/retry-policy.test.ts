import { describe, expect, it } from "vitest";
import { nextRetryDelayMs, RetryBudget } from "../../src/core/classify/retry-policy.ts";
import { ModelCallError } from "../../src/core/errors/errors.ts";

describe("nextRetryDelayMs", () => {
  const throttled = new ModelCallError("MODEL_THROTTLED", "m", "ThrottlingException");
  const policy = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000 };

  it("retries retryable model errors with full jitter up to maxAttempts", () => {
    expect(nextRetryDelayMs(throttled, 1, policy, () => 1)).toBe(100);
    expect(nextRetryDelayMs(throttled, 2, policy, () => 1)).toBe(200);
    expect(nextRetryDelayMs(throttled, 2, policy, () => 0.5)).toBe(100);
    expect(nextRetryDelayMs(throttled, 3, policy)).toBeUndefined();
  });

  it("never waits longer than maxDelayMs between attempts, however many came before", () => {
    expect(nextRetryDelayMs(throttled, 9, { ...policy, maxAttempts: 10 }, () => 1)).toBe(1_000);
  });

  it("waits what the service asked (retry-after), and never retries a rejected request or a foreign error", () => {
    expect(nextRetryDelayMs(new ModelCallError("MODEL_THROTTLED", "m", "x", { retryAfterSeconds: 4 }), 1, policy)).toBe(4_000);
    expect(nextRetryDelayMs(new ModelCallError("MODEL_REJECTED_REQUEST", "m", "x"), 1, policy)).toBeUndefined();
    expect(nextRetryDelayMs(new Error("boom"), 1, policy)).toBeUndefined();
  });

  it("never retries within the batch when the daily quota is spent: it comes back hours later", () => {
    const spent = new ModelCallError("MODEL_QUOTA_EXHAUSTED", "m", "Too many tokens per day", { resetsAt: Date.now() + 3_600_000 });
    expect(spent.retryable).toBe(true);
    expect(nextRetryDelayMs(spent, 1, policy)).toBeUndefined();
  });
});

describe("RetryBudget", () => {
  it("spends a batch's budget and refuses to overdraw it", () => {
    const budget = new RetryBudget(1_000);
    expect(budget.take(600)).toBe(true);
    expect(budget.take(600)).toBe(false);
    expect(budget.take(400)).toBe(true);
    expect(budget.take(1)).toBe(false);
  });
});
