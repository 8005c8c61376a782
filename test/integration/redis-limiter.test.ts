import { randomUUID } from "node:crypto";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { BottleneckLimiter, type LimiterOptions } from "../../src/limiter/bottleneck-limiter.ts";

const redisUrl = process.env.LABELQ_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const logger = pino({ level: "silent" });

function options(overrides: Partial<LimiterOptions> = {}): LimiterOptions {
  return { maxConcurrent: 4, minTimeMs: 0, id: `labelq-test-${randomUUID()}`, quotaFor: () => ({ rpm: 0, tpm: 0 }), localShare: 1, ...overrides };
}

const call = { model: "llama3.3-70b", tokens: 100 };

describe("the Bottleneck limiter", () => {
  it("caps concurrent calls per process", async () => {
    const limiter = new BottleneckLimiter(options({ maxConcurrent: 2 }), logger);
    let running = 0;
    let peak = 0;
    const task = async () => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 20));
      running -= 1;
    };
    await Promise.all(Array.from({ length: 10 }, () => limiter.schedule(call, task)));
    expect(peak).toBe(2);
    await limiter.close();
  });

  it("shares a requests-per-minute quota between two limiters (two processes' worth) through Redis", async () => {
    // 240 rpm = 4/s with a 2 s bucket (8 at once): 24 calls need about (24 - 8) / 4 = 4 s at least.
    const shared = options({ redisUrl, quotaFor: () => ({ rpm: 240, tpm: 0 }) });
    const a = new BottleneckLimiter(shared, logger);
    const b = new BottleneckLimiter(shared, logger);
    const started = Date.now();
    const times: number[] = [];
    try {
      await Promise.all(Array.from({ length: 24 }, (_, k) => (k % 2 ? a : b).schedule(call, () => Promise.resolve(times.push(Date.now() - started)))));
    } finally {
      await a.close();
      await b.close();
    }
    times.sort((x, y) => x - y);
    // Never more than the bucket plus what refilled: count calls in the first second.
    const inFirstSecond = times.filter((t) => t < 1_000).length;
    expect(inFirstSecond).toBeLessThanOrEqual(8 + 4 + 1);
    expect(times.at(-1)).toBeGreaterThanOrEqual(3_000);
  });

  it("lowers a model's rate on a throttle and shares that across the fleet", async () => {
    const shared = options({ redisUrl, quotaFor: () => ({ rpm: 600, tpm: 0 }) });
    const a = new BottleneckLimiter(shared, logger);
    const b = new BottleneckLimiter(shared, logger);
    try {
      await a.schedule(call, () => Promise.resolve());
      await b.schedule(call, () => Promise.resolve());
      a.report(call, { throttled: true });
      await new Promise((r) => setTimeout(r, 1_200));
      expect(a.rateFactors()[call.model]).toBeLessThan(1);
      // b learnt it from Redis on its next tick, without a throttle of its own.
      expect(b.rateFactors()[call.model]).toBe(a.rateFactors()[call.model]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("keeps running calls locally when Redis is unreachable", async () => {
    const limiter = new BottleneckLimiter(options({ redisUrl: "redis://127.0.0.1:9", quotaFor: () => ({ rpm: 6000, tpm: 0 }), localShare: 0.5 }), logger);
    try {
      const results = await Promise.all([1, 2, 3].map((n) => limiter.schedule(call, () => Promise.resolve(n))));
      expect(results).toEqual([1, 2, 3]);
    } finally {
      await limiter.close();
    }
  });
});
