import { describe, expect, it } from "vitest";
import { MAX_RETRY_DELAY_S, MAX_VISIBILITY_S, quotaHoldSeconds, retryDelaySeconds, VISIBILITY_MARGIN_S } from "../../src/app/worker/retry-delay.ts";

const lowest = () => 0;
const highest = () => 0.999_999_999;

describe("retryDelaySeconds", () => {
  it("doubles the delay with each receive, from the base delay on the first receive", () => {
    expect([1, 2, 3, 4, 5].map((n) => retryDelaySeconds(n, 10, highest))).toEqual([10, 20, 40, 80, 160]);
  });

  it("treats a receive count of 0 like the first receive", () => {
    expect(retryDelaySeconds(0, 10, highest)).toBe(10);
  });

  it(`never exceeds MAX_RETRY_DELAY_S (${MAX_RETRY_DELAY_S} s), however many receives`, () => {
    expect(MAX_RETRY_DELAY_S).toBe(900);
    expect(retryDelaySeconds(7, 10, highest)).toBe(640);
    for (const n of [8, 20, 100, 1000]) expect(retryDelaySeconds(n, 10, highest), `receive ${n}`).toBe(MAX_RETRY_DELAY_S);
    expect(retryDelaySeconds(1, 5_000, highest)).toBe(MAX_RETRY_DELAY_S);
  });

  it("jitters within [exp/2, exp] using the injected random", () => {
    expect(retryDelaySeconds(3, 10, lowest)).toBe(20);
    expect(retryDelaySeconds(3, 10, () => 0.5)).toBe(30);
    expect(retryDelaySeconds(3, 10, highest)).toBe(40);
    expect(retryDelaySeconds(50, 10, lowest)).toBe(MAX_RETRY_DELAY_S / 2);
  });

  it("stays an integer within [exp/2, exp] for any random value", () => {
    for (let k = 0; k <= 100; k++) {
      const r = k / 100.5;
      for (const n of [1, 2, 3, 6, 9]) {
        const exp = Math.min(MAX_RETRY_DELAY_S, 7 * 2 ** (n - 1));
        const d = retryDelaySeconds(n, 7, () => r);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(exp / 2);
        expect(d).toBeLessThanOrEqual(exp);
      }
    }
  });

  it("is 0 when the base delay is 0", () => {
    expect(retryDelaySeconds(4, 0, highest)).toBe(0);
  });

  it("uses Math.random when no random is injected, staying within bounds", () => {
    for (let k = 0; k < 50; k++) {
      const d = retryDelaySeconds(2, 10);
      expect(d).toBeGreaterThanOrEqual(10);
      expect(d).toBeLessThanOrEqual(20);
    }
  });
});

describe("quotaHoldSeconds", () => {
  const now = 1_000_000_000;
  const longest = MAX_VISIBILITY_S - VISIBILITY_MARGIN_S;

  it("waits until the quota resets, rounded up to a whole second", () => {
    expect(quotaHoldSeconds(now + 7_200_000, now, 0, 20)).toBe(7_200);
    expect(quotaHoldSeconds(now + 1_500, now, 0, 0)).toBe(2);
  });

  it("waits at least the backoff when the reset is due, past, or unknown", () => {
    expect(quotaHoldSeconds(now + 5_000, now, 0, 20)).toBe(20);
    expect(quotaHoldSeconds(now - 60_000, now, 0, 20)).toBe(20);
    expect(quotaHoldSeconds(undefined, now, 0, 20)).toBe(20);
  });

  it("never ends later than 12 h after the message was received", () => {
    expect(MAX_VISIBILITY_S).toBe(43_200);
    expect(quotaHoldSeconds(now + 86_400_000, now, 0, 20)).toBe(longest);
    expect(quotaHoldSeconds(now + 86_400_000, now, 90.2, 20)).toBe(longest - 91);
    expect(quotaHoldSeconds(now + 86_400_000, now, 50_000, 20)).toBe(0);
  });
});
