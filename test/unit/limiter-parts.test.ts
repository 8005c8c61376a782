import { describe, expect, it } from "vitest";
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

describe("redisOptionsFromUrl", () => {
  it("reads host, port, credentials, db and TLS from a Redis URL", () => {
    expect(redisOptionsFromUrl("redis://127.0.0.1:6411")).toEqual({ host: "127.0.0.1", port: 6411 });
    expect(redisOptionsFromUrl("rediss://user:p%40ss@cache.example:6380/2")).toEqual({ host: "cache.example", port: 6380, username: "user", password: "p@ss", db: 2, tls: {} });
  });
});
