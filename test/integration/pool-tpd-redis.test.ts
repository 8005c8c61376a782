import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { BEDROCK_DAY } from "../../src/adapters/limiter/day-budget.ts";
import { type Pool, PooledLimiter } from "../../src/adapters/limiter/pooled-limiter.ts";
import { QuotaLimiter } from "../../src/adapters/limiter/quota-limiter.ts";
import { ModelCallError } from "../../src/core/errors/errors.ts";
import { currentRoute } from "../../src/core/quota/pool-route.ts";
import type { ModelCall } from "../../src/core/quota/rate-limiter.ts";
import type { Clock } from "../../src/core/util/clock.ts";
import { until } from "../support/until.ts";

// A pool's tokens per day (tpd) are counted ahead of Bedrock, fleet-wide: each (pool, model) lane
// keeps its rolling day in Redis under <limiter id>:pool:<pool id>:<model>:day, one field a minute.

const redisUrl = process.env.LABELQ_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const redis = new Redis(redisUrl);
afterAll(() => redis.disconnect());

const MODEL = "llama3.3-70b";
const T0 = Date.parse("2026-03-01T10:00:00Z");

/** A clock the test moves by hand; its waits end only when aborted (the limiter's ticks stay asleep). */
function manualClock(start = T0): Clock & { set(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    sleep: (_ms, signal) =>
      new Promise((_resolve, reject) => {
        signal?.addEventListener("abort", () => reject(signal.reason as Error), { once: true });
      }),
    set(ms) {
      now = ms;
    },
  };
}

/** A call reserving 1,000 input + 1,000 maxTokens = 2,000 tokens; output burns at `burnDown`. */
function call(burnDown = 1): ModelCall {
  return { model: MODEL, tokens: 2_000, reserve: { inputTokens: 1_000, cacheTokens: 0, maxTokens: 1_000, outputBurnDown: burnDown } };
}

/** Tokens counted in a lane's day in Redis. */
async function dayTokens(key: string): Promise<number> {
  return (await redis.hvals(key)).reduce((n, v) => n + Number(v), 0);
}

/** A worker's limiter over pools `tpds` (pool id -> tpd), its lanes in Redis under the fleet's id; `lines` collects its log. */
function worker(fleetId: string, tpds: Record<string, number>, clock: Clock, lines: string[]): PooledLimiter {
  const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
  const pools: Pool[] = Object.entries(tpds).map(([id, tpd]) => ({
    id,
    region: id,
    limiter: new QuotaLimiter(
      { maxConcurrent: 8, minTimeMs: 0, redisUrl, id: `${fleetId}:pool:${id}`, quotaFor: () => ({ rpm: 0, tpm: 0, tpd }), localShare: 1, clock },
      logger.child({ pool: id }),
    ),
  }));
  return new PooledLimiter({ pools, allowed: () => true, clock }, logger);
}

/** Run one call through `limiter`, answered with `outputTokens`; its value is the pool it went to. */
async function answered(limiter: PooledLimiter, c: ModelCall, outputTokens = 1_000): Promise<string> {
  const pool = await limiter.schedule(c, () => Promise.resolve(currentRoute()!.poolId));
  limiter.report(c, { outcome: "ok", usage: { inputTokens: 1_000, outputTokens } });
  return pool;
}

describe("a pool's tokens per day, fleet-wide", () => {
  it("counts a call's reservation when it starts and settles it to input + output x burn-down when it ends", async () => {
    const fleetId = `labelq-test-${randomUUID()}`;
    const key = `${fleetId}:pool:a:${MODEL}:day`;
    const limiter = worker(fleetId, { a: 100_000 }, manualClock(), []);
    try {
      const c = call(5);
      let finish!: () => void;
      const running = limiter.schedule(c, () => new Promise<void>((resolve) => (finish = resolve)));
      await until(async () => (await dayTokens(key)) === 2_000, `the reservation of 2,000 tokens in ${key}`);
      finish();
      await running;
      limiter.report(c, { outcome: "ok", usage: { inputTokens: 1_000, outputTokens: 100 } });
      // 1,000 input + 100 output x 5.
      await until(async () => (await dayTokens(key)) === 1_500, "the call settled to 1,500 tokens");
      // A call Bedrock refused counts nothing.
      const refused = call();
      await limiter.schedule(refused, () => Promise.resolve());
      limiter.report(refused, { outcome: "throttled" });
      await until(async () => (await dayTokens(key)) === 1_500, "the refused call released");
      expect(await redis.pttl(key)).toBeGreaterThan(BEDROCK_DAY.dayMs);
    } finally {
      await limiter.close();
      await redis.del(key);
    }
  });

  it("stops routing to a pool whose day cannot take the call, other pools carry on, then every worker gets the model's daily pause with the reset time", async () => {
    const fleetId = `labelq-test-${randomUUID()}`;
    const keys = ["a", "b"].map((p) => `${fleetId}:pool:${p}:${MODEL}:day`);
    const clock = manualClock();
    const firstLog: string[] = [];
    const first = worker(fleetId, { a: 5_000, b: 9_000 }, clock, firstLog);
    const second = worker(fleetId, { a: 5_000, b: 9_000 }, clock, []);
    try {
      const pools: string[] = [];
      // Two workers, one fleet: a takes two calls of 2,000 (4,000 of 5,000), b four (8,000 of 9,000).
      for (let i = 0; i < 6; i++) pools.push(await answered(i % 2 === 0 ? first : second, call()));
      expect(pools.filter((p) => p === "a")).toHaveLength(2);
      expect(pools.filter((p) => p === "b")).toHaveLength(4);
      await until(async () => (await dayTokens(keys[0]!)) === 4_000 && (await dayTokens(keys[1]!)) === 8_000, "4,000 tokens in a's day and 8,000 in b's");

      // Neither day can take 2,000 more: no call is sent, and the model is paused until the first
      // minute of calls leaves the rolling day (its bucket's end + 24 h + the margin).
      const resetsAt = Math.floor(T0 / 60_000) * 60_000 + 60_000 + BEDROCK_DAY.dayMs + BEDROCK_DAY.marginMs;
      for (const limiter of [first, second]) {
        const error = await limiter.schedule(call(), () => Promise.reject(new Error("no call may be sent"))).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ModelCallError);
        expect((error as ModelCallError).code).toBe("MODEL_QUOTA_EXHAUSTED");
        expect((error as ModelCallError).resetsAt).toBe(resetsAt);
        expect(limiter.pausedUntil(MODEL)).toBe(resetsAt);
      }
      expect(await dayTokens(keys[0]!)).toBe(4_000);
      expect(await dayTokens(keys[1]!)).toBe(8_000);
      // One log line per pool when its day is spent, not one per refused call.
      await first.schedule(call(), () => Promise.resolve()).catch(() => undefined);
      const spent = firstLog.map((l) => JSON.parse(l) as { msg: string; pool?: string; tpd?: number }).filter((l) => l.msg.startsWith("day token budget (tpd) spent"));
      expect(spent.map((l) => [l.pool, l.tpd]).sort()).toEqual([
        ["a", 5_000],
        ["b", 9_000],
      ]);
      expect(first.dayBudgets()).toEqual(
        expect.arrayContaining([
          { pool: "a", model: MODEL, tokens: 4_000, tpd: 5_000 },
          { pool: "b", model: MODEL, tokens: 8_000, tpd: 9_000 },
        ]),
      );

      // The rolling day moves on: the first minute's tokens leave it, and the pools take calls again.
      clock.set(resetsAt);
      expect(first.pausedUntil(MODEL)).toBeUndefined();
      const next = await answered(second, call());
      // Counting the call dropped that pool's old minute: its day holds the new call only.
      expect(await dayTokens(`${fleetId}:pool:${next}:${MODEL}:day`)).toBe(2_000);
    } finally {
      await Promise.all([first.close(), second.close()]);
      await redis.del(...keys);
    }
  });
});
