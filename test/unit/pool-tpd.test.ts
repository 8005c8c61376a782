import pino from "pino";
import { describe, expect, it } from "vitest";
import { BEDROCK_DAY, dayRefusal, LocalDayStore } from "../../src/adapters/limiter/day-budget.ts";
import { type PoolLimiter, PooledLimiter } from "../../src/adapters/limiter/pooled-limiter.ts";
import { QuotaLimiter } from "../../src/adapters/limiter/quota-limiter.ts";
import { ModelCallError } from "../../src/core/errors/errors.ts";
import { Metrics } from "../../src/core/observability/metrics.ts";
import { currentRoute } from "../../src/core/quota/pool-route.ts";
import type { Headroom } from "../../src/core/quota/pools.ts";
import type { ModelCall } from "../../src/core/quota/rate-limiter.ts";
import { PassThroughLimiter, rejection, silentLogger } from "../support/fakes.ts";
import { FakeClock } from "./fake-clock.ts";

const MODEL = "llama3.3-70b";
const MINUTE = 60_000;
const T0 = Date.parse("2026-03-01T10:00:30Z");
/** A call reserving 2,000 tokens (1,000 input + 1,000 maxTokens). */
const call = (): ModelCall => ({ model: MODEL, tokens: 2_000, reserve: { inputTokens: 1_000, cacheTokens: 0, maxTokens: 1_000, outputBurnDown: 1 } });

describe("the rolling day", () => {
  it("keeps a minute's tokens until that minute's end is 24 hours (and the margin) old", async () => {
    const day = new LocalDayStore();
    expect(await day.tryReserve(3_000, 5_000, T0)).toMatchObject({ admitted: true, used: 0 });
    expect(await day.tryReserve(1_000, 5_000, T0 + 5 * MINUTE)).toMatchObject({ admitted: true, used: 3_000 });
    // 4,000 counted: 2,000 more do not fit until the first minute leaves the day.
    const leaves = Math.floor(T0 / MINUTE) * MINUTE + MINUTE + BEDROCK_DAY.dayMs + BEDROCK_DAY.marginMs;
    expect(await day.tryReserve(2_000, 5_000, T0 + 6 * MINUTE)).toEqual({ admitted: false, used: 4_000, fitsAt: leaves });
    expect(await day.used(leaves - 1)).toBe(4_000);
    expect(await day.used(leaves)).toBe(1_000);
    expect(await day.tryReserve(2_000, 5_000, leaves)).toMatchObject({ admitted: true, used: 1_000 });
  });

  it("settles a reservation to its cost and forgets a released one", async () => {
    const day = new LocalDayStore();
    const first = await day.tryReserve(2_000, 10_000, T0);
    const second = await day.tryReserve(2_000, 10_000, T0);
    if (!first.admitted || !second.admitted) throw new Error("both calls fit");
    await day.settle(first.bucket, 2_000, 1_500);
    await day.release(second.bucket, 2_000);
    expect(await day.used(T0)).toBe(1_500);
  });

  it("tells when a call fits, oldest minutes first, and lets a call larger than the day go alone into an empty one", () => {
    const b = Math.floor(T0 / MINUTE);
    const buckets: [number, number][] = [
      [b, 1_000],
      [b + 1, 3_000],
      [b + 2, 500],
    ];
    expect(dayRefusal(buckets, 500, 5_000, BEDROCK_DAY)).toBeUndefined();
    expect(dayRefusal(buckets, 1_000, 5_000, BEDROCK_DAY)).toBe((b + 1) * MINUTE + BEDROCK_DAY.dayMs + BEDROCK_DAY.marginMs);
    expect(dayRefusal(buckets, 4_000, 5_000, BEDROCK_DAY)).toBe((b + 2) * MINUTE + BEDROCK_DAY.dayMs + BEDROCK_DAY.marginMs);
    expect(dayRefusal([], 9_000, 5_000, BEDROCK_DAY)).toBeUndefined();
  });
});

describe("a lane with a tpd", () => {
  it("has day headroom, refuses a call its day cannot take before it starts, pauses the model until the day has room, and logs it once", async () => {
    const clock = new FakeClock(T0);
    const lines: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
    const limiter = new QuotaLimiter({ maxConcurrent: 4, minTimeMs: 0, id: "t", quotaFor: () => ({ rpm: 0, tpm: 0, tpd: 5_000 }), localShare: 1, clock }, logger);
    try {
      expect(await limiter.headroom(call())).toEqual({ tokens: Infinity, requests: Infinity, dayTokens: 3_000 });
      for (let i = 0; i < 2; i++) {
        const c = call();
        await limiter.schedule(c, () => Promise.resolve());
        limiter.report(c, { outcome: "ok", usage: { inputTokens: 1_000, outputTokens: 1_000 } });
      }
      expect(await limiter.headroom(call())).toMatchObject({ dayTokens: -1_000 });
      let ran = false;
      const error = await rejection(
        limiter.schedule(call(), () => {
          ran = true;
          return Promise.resolve();
        }),
      );
      expect(ran).toBe(false);
      const resetsAt = Math.floor(T0 / MINUTE) * MINUTE + MINUTE + BEDROCK_DAY.dayMs + BEDROCK_DAY.marginMs;
      expect(error).toBeInstanceOf(ModelCallError);
      expect(error).toMatchObject({ code: "MODEL_QUOTA_EXHAUSTED", resetsAt });
      expect(limiter.pausedUntil(MODEL)).toBe(resetsAt);
      await rejection(limiter.schedule(call(), () => Promise.resolve()));
      expect(lines.filter((l) => l.includes("day token budget (tpd) spent"))).toHaveLength(1);
      expect(limiter.dayBudgets()).toEqual([{ model: MODEL, tokens: 4_000, tpd: 5_000 }]);
    } finally {
      await limiter.close();
    }
  });
});

/** A pool limiter with a day budget a test sets: runs every task, or refuses for the day when `spent`. */
class DayPoolLimiter extends PassThroughLimiter implements PoolLimiter {
  dayTokens: number;
  spentUntil: number | undefined;

  constructor(dayTokens: number, spentUntil?: number) {
    super();
    this.dayTokens = dayTokens;
    this.spentUntil = spentUntil;
  }

  override schedule<T>(c: ModelCall, task: () => Promise<T>): Promise<T> {
    if (this.spentUntil === undefined) return super.schedule(c, task);
    this.paused.set(c.model, this.spentUntil);
    return Promise.reject(new ModelCallError("MODEL_QUOTA_EXHAUSTED", c.model, "day spent", { resetsAt: this.spentUntil }));
  }

  headroom(c: ModelCall): Promise<Headroom> {
    return Promise.resolve({ tokens: Infinity, requests: Infinity, dayTokens: this.dayTokens - c.tokens });
  }

  canStart(): boolean {
    return true;
  }
}

describe("routing by day budget", () => {
  const pools = (a: DayPoolLimiter, b: DayPoolLimiter) => [
    { id: "a", region: "us-east-1", limiter: a },
    { id: "b", region: "us-west-2", limiter: b },
  ];
  const route = (limiter: PooledLimiter) => limiter.schedule(call(), () => Promise.resolve(currentRoute()?.poolId));

  it("sends no call to a pool whose day cannot take its reservation while another's can", async () => {
    const limiter = new PooledLimiter({ pools: pools(new DayPoolLimiter(1_000), new DayPoolLimiter(50_000)), allowed: () => true }, silentLogger());
    expect([await route(limiter), await route(limiter), await route(limiter)]).toEqual(["b", "b", "b"]);
  });

  it("routes a call again when its pool refuses it for the day before it starts, and fails for the day when every pool has", async () => {
    const a = new DayPoolLimiter(50_000, T0 + 1_000);
    const b = new DayPoolLimiter(50_000);
    const limiter = new PooledLimiter({ pools: pools(a, b), allowed: () => true }, silentLogger());
    // Whichever pool the first choice falls on, the call ends in b.
    expect([await route(limiter), await route(limiter)]).toEqual(["b", "b"]);
    b.spentUntil = T0 + 2_000;
    a.spentUntil = T0 + 3_000;
    a.paused.clear();
    const error = await rejection(route(limiter));
    expect(error).toMatchObject({ code: "MODEL_QUOTA_EXHAUSTED", resetsAt: T0 + 2_000 });
  });
});

describe("the day gauges", () => {
  it("show each pool and model's tokens in the rolling day and the share of its tpd used", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.observeGauges({
      inFlight: () => 0,
      limiterQueued: () => 0,
      cacheErrors: () => 0,
      rateFactors: () => ({}),
      breakers: () => ({}),
      poolDays: () => [{ pool: "us-east-1", model: MODEL, tokens: 4_000, tpd: 5_000 }],
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain(`labelq_pool_tokens_today{pool="us-east-1",model="${MODEL}"} 4000`);
    expect(text).toContain(`labelq_pool_day_share_used{pool="us-east-1",model="${MODEL}"} 0.8`);
  });
});
