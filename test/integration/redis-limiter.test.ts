import { randomUUID } from "node:crypto";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { BottleneckLimiter } from "../../src/limiter/bottleneck-limiter.ts";

const redisUrl = process.env.LABELQ_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const logger = pino({ level: "silent" });

describe("the Bottleneck limiter shared through Redis", () => {
  it("caps concurrent calls across two limiters (two processes' worth) sharing one id", async () => {
    const id = `labelq-test-${randomUUID()}`;
    const a = new BottleneckLimiter({ maxConcurrent: 2, minTimeMs: 0, redisUrl, id }, logger);
    const b = new BottleneckLimiter({ maxConcurrent: 2, minTimeMs: 0, redisUrl, id }, logger);
    let running = 0;
    let peak = 0;
    const task = async () => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 30));
      running -= 1;
      return 1;
    };
    try {
      const done = await Promise.all(Array.from({ length: 12 }, (_, k) => (k % 2 ? a : b).schedule(100, task)));
      expect(done).toHaveLength(12);
      expect(peak).toBe(2);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("runs jobs locally without Redis", async () => {
    const limiter = new BottleneckLimiter({ maxConcurrent: 1, minTimeMs: 0, id: "local" }, logger);
    const order: number[] = [];
    await Promise.all([1, 2, 3].map((n) => limiter.schedule(1, () => Promise.resolve(order.push(n)))));
    expect(order).toEqual([1, 2, 3]);
    await limiter.close();
  });
});
