import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { type Pool, PooledLimiter } from "../../src/adapters/limiter/pooled-limiter.ts";
import { QuotaLimiter } from "../../src/adapters/limiter/quota-limiter.ts";
import { currentRoute } from "../../src/core/quota/pool-route.ts";
import type { ModelCall } from "../../src/core/quota/rate-limiter.ts";

// The pools' windows are the fleet's: each (pool, model) lane keeps its window in Redis under a
// key with the pool's id, so one worker routes by what every worker has sent to each pool.

const redisUrl = process.env.LABELQ_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const logger = pino({ level: "silent" });
const redis = new Redis(redisUrl);
afterAll(() => redis.disconnect());

const MODEL = "llama3.3-70b";
const call = (): ModelCall => ({ model: MODEL, tokens: 100 });

/** A worker's pool: its own QuotaLimiter on Redis, keyed by the pool's id, as createPooledLimiter builds it. */
function pool(fleetId: string, region: string): Pool {
  const limiter = new QuotaLimiter(
    { maxConcurrent: 8, minTimeMs: 0, redisUrl, id: `${fleetId}:pool:${region}`, quotaFor: () => ({ rpm: 600, tpm: 0 }), localShare: 1, timing: { windowMs: 10_000, marginMs: 50 } },
    logger,
  );
  return { id: region, region, limiter };
}

describe("quota pools across a fleet", () => {
  it("keeps each pool's window in Redis under its id, and routes one worker's calls by what another sent", async () => {
    const fleetId = `labelq-test-${randomUUID()}`;
    // One worker may use us-east-1 only (its pools as configured); the other both Regions.
    const first = new PooledLimiter({ pools: [pool(fleetId, "us-east-1")], allowed: () => true }, logger);
    const second = new PooledLimiter({ pools: [pool(fleetId, "us-east-1"), pool(fleetId, "us-west-2")], allowed: () => true }, logger);
    try {
      for (let i = 0; i < 5; i++) await first.schedule(call(), () => Promise.resolve());
      expect(await redis.zcard(`${fleetId}:pool:us-east-1:${MODEL}:window`)).toBe(5);
      const regions: (string | undefined)[] = [];
      for (let i = 0; i < 4; i++) regions.push(await second.schedule(call(), () => Promise.resolve(currentRoute()?.region)));
      // us-west-2's window is emptier (the first worker's five calls are in us-east-1's) until it holds five too.
      expect(regions).toEqual(["us-west-2", "us-west-2", "us-west-2", "us-west-2"]);
      expect(await redis.zcard(`${fleetId}:pool:us-west-2:${MODEL}:window`)).toBe(4);
    } finally {
      await Promise.all([first.close(), second.close()]);
      await redis.del(`${fleetId}:pool:us-east-1:${MODEL}:window`, `${fleetId}:pool:us-west-2:${MODEL}:window`);
    }
  });
});
