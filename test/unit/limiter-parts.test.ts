import { describe, expect, it } from "vitest";
import { CircuitBreakers } from "../../src/classify/circuit-breaker.ts";
import { nextRetryDelayMs, RetryBudget } from "../../src/classify/retry-policy.ts";
import { ModelCallError } from "../../src/errors/errors.ts";
import { DEFAULT_AIMD, onQuietTick, onThrottle } from "../../src/limiter/aimd.ts";
import { redisOptionsFromUrl } from "../../src/limiter/bottleneck-limiter.ts";

const fresh = { factor: 1, lastDecreaseAt: 0, lastIncreaseAt: 0, pausedUntil: 0 };

describe("AIMD", () => {
  it("lowers the factor multiplicatively on a throttle, once per burst of throttles", () => {
    const a = onThrottle(fresh, 10_000, 0, DEFAULT_AIMD);
    expect(a.factor).toBeCloseTo(0.7);
    const b = onThrottle(a, 10_500, 0, DEFAULT_AIMD);
    expect(b.factor).toBeCloseTo(0.7);
    const c = onThrottle(b, 12_100, 0, DEFAULT_AIMD);
    expect(c.factor).toBeCloseTo(0.49);
  });

  it("never goes below the minimum and honours the longest retry-after", () => {
    let s = fresh;
    for (let k = 1; k <= 40; k++) s = onThrottle(s, k * 3_000, k === 3 ? 99_000 : 0, DEFAULT_AIMD);
    expect(s.factor).toBe(DEFAULT_AIMD.minFactor);
    expect(s.pausedUntil).toBe(99_000);
  });

  it("raises the factor additively after each quiet interval, up to the full quota", () => {
    let s = onThrottle(fresh, 10_000, 0, DEFAULT_AIMD);
    expect(onQuietTick(s, 12_000, DEFAULT_AIMD).factor).toBeCloseTo(0.7);
    s = onQuietTick(s, 15_000, DEFAULT_AIMD);
    expect(s.factor).toBeCloseTo(0.75);
    expect(onQuietTick(s, 17_000, DEFAULT_AIMD).factor).toBeCloseTo(0.75);
    for (let t = 20_000; t < 120_000; t += 5_000) s = onQuietTick(s, t, DEFAULT_AIMD);
    expect(s.factor).toBe(1);
  });
});

describe("retry policy", () => {
  const throttled = new ModelCallError("MODEL_THROTTLED", "m", "ThrottlingException");
  const policy = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000 };

  it("retries retryable model errors with full jitter up to maxAttempts", () => {
    expect(nextRetryDelayMs(throttled, 1, policy, () => 1)).toBe(100);
    expect(nextRetryDelayMs(throttled, 2, policy, () => 1)).toBe(200);
    expect(nextRetryDelayMs(throttled, 2, policy, () => 0.5)).toBe(100);
    expect(nextRetryDelayMs(throttled, 3, policy)).toBeUndefined();
  });

  it("waits what the service asked (retry-after), and never retries a rejected request or a foreign error", () => {
    expect(nextRetryDelayMs(new ModelCallError("MODEL_THROTTLED", "m", "x", { retryAfterSeconds: 4 }), 1, policy)).toBe(4_000);
    expect(nextRetryDelayMs(new ModelCallError("MODEL_REJECTED_REQUEST", "m", "x"), 1, policy)).toBeUndefined();
    expect(nextRetryDelayMs(new Error("boom"), 1, policy)).toBeUndefined();
  });

  it("spends a batch's budget and refuses to overdraw it", () => {
    const budget = new RetryBudget(1_000);
    expect(budget.take(600)).toBe(true);
    expect(budget.take(600)).toBe(false);
    expect(budget.take(400)).toBe(true);
  });
});

describe("circuit breakers", () => {
  it("open after the threshold, let one trial through after the cooldown, and close on success", () => {
    let now = 0;
    const b = new CircuitBreakers({ threshold: 2, cooldownMs: 1_000 }, () => now);
    expect(b.failure("m")).toBe(false);
    expect(b.allow("m")).toBe(true);
    expect(b.failure("m")).toBe(true);
    expect(b.state("m")).toBe("open");
    expect(b.allow("m")).toBe(false);
    now = 1_500;
    expect(b.state("m")).toBe("half-open");
    expect(b.allow("m")).toBe(true);
    expect(b.allow("m")).toBe(false);
    b.success("m");
    expect(b.state("m")).toBe("closed");
    expect(b.allow("m")).toBe(true);
  });

  it("re-open at once when the half-open trial fails", () => {
    let now = 0;
    const b = new CircuitBreakers({ threshold: 1, cooldownMs: 1_000 }, () => now);
    b.failure("m");
    now = 2_000;
    expect(b.allow("m")).toBe(true);
    expect(b.failure("m")).toBe(true);
    expect(b.state("m")).toBe("open");
  });
});

describe("redisOptionsFromUrl", () => {
  it("reads host, port, credentials, db and TLS from a Redis URL", () => {
    expect(redisOptionsFromUrl("redis://127.0.0.1:6411")).toEqual({ host: "127.0.0.1", port: 6411 });
    expect(redisOptionsFromUrl("rediss://user:p%40ss@cache.example:6380/2")).toEqual({ host: "cache.example", port: 6380, username: "user", password: "p@ss", db: 2, tls: {} });
  });
});
