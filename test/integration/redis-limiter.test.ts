import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { reservationFor } from "../../src/core/quota/bedrock-quota.ts";
import { QuotaLimiter, type QuotaLimiterOptions } from "../../src/adapters/limiter/quota-limiter.ts";
import { RedisWindowStore } from "../../src/adapters/limiter/quota-window.ts";
import type { ModelCall } from "../../src/core/quota/rate-limiter.ts";
import { until } from "../support/until.ts";

const redisUrl = process.env.LABELQ_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const logger = pino({ level: "silent" });
const redis = new Redis(redisUrl);
afterAll(() => redis.disconnect());

function options(overrides: Partial<QuotaLimiterOptions> = {}): QuotaLimiterOptions {
  return { maxConcurrent: 4, minTimeMs: 0, id: `labelq-test-${randomUUID()}`, quotaFor: () => ({ rpm: 0, tpm: 0 }), localShare: 1, ...overrides };
}

const call = (): ModelCall => ({ model: "llama3.3-70b", tokens: 100 });

describe("the Redis window", () => {
  it("admits and settles atomically for every process sharing the key", async () => {
    const key = `labelq-test-${randomUUID()}:window`;
    const a = new RedisWindowStore(redis, key);
    const b = new RedisWindowStore(redis, key);
    const limits = { rpm: 60, tpm: 120_000 };
    // 120,000 a minute paces at 25,000 per 10 s: the second 18,000 waits for the first to settle.
    expect(await a.tryAdmit("x", 18_000, limits, 1_000)).toEqual({ admitted: true });
    const refused = await b.tryAdmit("y", 18_000, limits, 1_010);
    expect(refused.admitted).toBe(false);
    await a.settle("x", 18_000, 2_000);
    expect(await b.tryAdmit("y", 18_000, limits, 1_020)).toEqual({ admitted: true });
    await b.release("y", 18_000);
    expect(await redis.zcard(key)).toBe(1);
    await redis.del(key);
  });
});

describe("the quota limiter", () => {
  it("caps concurrent calls per process", async () => {
    const limiter = new QuotaLimiter(options({ maxConcurrent: 2 }), logger);
    let running = 0;
    let peak = 0;
    const task = async () => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 20));
      running -= 1;
    };
    await Promise.all(Array.from({ length: 10 }, () => limiter.schedule(call(), task)));
    expect(peak).toBe(2);
    await limiter.close();
  });

  it("shares a rolling window between two limiters (two processes' worth) through Redis, never over it", async () => {
    // A 2 s window of 6 calls (the per-minute quota scales to the window: 180 a minute is 6 per
    // 2 s): 18 calls need at least two more windows. The limiter spaces its reservations by the
    // window plus its margin; the test sees each start a moment later, after the event loop runs
    // the task, and that moment varies on a busy machine. A 300 ms margin keeps that jitter from
    // reading as a span of under 2 s, while a limiter letting a seventh call into a window would
    // still show a span near 0.
    const shared = options({ redisUrl, quotaFor: () => ({ rpm: 180, tpm: 0 }), timing: { windowMs: 2_000, marginMs: 300 } });
    const a = new QuotaLimiter(shared, logger);
    const b = new QuotaLimiter(shared, logger);
    const started = Date.now();
    const times: number[] = [];
    try {
      await Promise.all(Array.from({ length: 18 }, (_, k) => (k % 2 ? a : b).schedule(call(), () => Promise.resolve(times.push(Date.now() - started)))));
    } finally {
      await a.close();
      await b.close();
    }
    times.sort((x, y) => x - y);
    // No 2 s span ever holds more than 6 starts.
    for (let k = 6; k < times.length; k++) expect(times[k]! - times[k - 6]!).toBeGreaterThanOrEqual(2_000);
  });

  it("reserves what Bedrock reserves and frees the rest when the call settles", async () => {
    // A 6 s window (a tenth of Bedrock's minute, so a tenth of the per-minute quota: 20,000
    // tokens): its pacing span is 1 s instead of 10 s, all the second call waits for once the first settled.
    const limiter = new QuotaLimiter(options({ quotaFor: () => ({ rpm: 0, tpm: 200_000 }), timing: { windowMs: 6_000, marginMs: 50 } }), logger);
    const reserve = reservationFor({ outputBurnDown: 5 }, { inputTokens: 2_000, maxTokens: 15_000 });
    const first: ModelCall = { model: "m", tokens: 0, reserve };
    const second: ModelCall = { model: "m", tokens: 0, reserve };
    let secondStarted = false;
    await limiter.schedule(first, () => Promise.resolve());
    const pending = limiter.schedule(second, () => Promise.resolve((secondStarted = true)));
    await new Promise((r) => setTimeout(r, 100));
    // 17,000 reserved of 20,000: the second call waits while the first holds its reservation,
    // and fits once the first settles at 2,000 + 100 x 5 = 2,500.
    expect(secondStarted).toBe(false);
    limiter.report(first, { outcome: "ok", usage: { inputTokens: 2_000, outputTokens: 100 } });
    await pending;
    expect(secondStarted).toBe(true);
    await limiter.close();
  });

  it("pauses a model whose daily quota is spent, and refuses its calls until the reset", async () => {
    const limiter = new QuotaLimiter(options(), logger);
    const c = call();
    await limiter.schedule(c, () => Promise.resolve());
    const resetsAt = Date.now() + 60_000;
    limiter.report(c, { outcome: "quota-exhausted", resetsAt });
    expect(limiter.pausedUntil(c.model)).toBe(resetsAt);
    await expect(limiter.schedule(call(), () => Promise.resolve())).rejects.toMatchObject({ code: "MODEL_QUOTA_EXHAUSTED", resetsAt });
    // With every allowed model paused, nothing is received; another model can still start.
    const gate = new AbortController();
    const waiting = limiter.whenCanStart([c.model], gate.signal);
    gate.abort();
    await expect(waiting).rejects.toThrow();
    await limiter.whenCanStart([c.model, "claude-haiku"]);
    await limiter.close();
  });

  it("lets every receive through while no call waits, though none of them has called yet (cache hits never call)", async () => {
    const limiter = new QuotaLimiter(options({ quotaFor: () => ({ rpm: 1, tpm: 0 }), timing: { windowMs: 60_000, marginMs: 0 } }), logger);
    const gates = Array.from({ length: 20 }, () => limiter.whenCanStart(["m"]));
    expect(await settledBeforeTimers(Promise.all(gates))).toBe(true);
    await limiter.close();
  });

  it("stops receiving while a call waits for room in a full window, and receives again once the window admits it", async () => {
    const limiter = new QuotaLimiter(options({ quotaFor: () => ({ rpm: 1, tpm: 0 }), timing: { windowMs: 1_000, marginMs: 0 } }), logger);
    await limiter.schedule({ model: "m", tokens: 1 }, () => Promise.resolve());
    let secondStarted = false;
    const second = limiter.schedule({ model: "m", tokens: 1 }, () => Promise.resolve((secondStarted = true)));
    await until(() => !limiter.canStart(["m"]), { what: "the window to refuse the second call" });
    const next = limiter.whenCanStart(["m"]);
    expect(await settledBeforeTimers(next)).toBe(false);
    // Another model with room still lets a receive through.
    expect(await settledBeforeTimers(limiter.whenCanStart(["m", "other"]))).toBe(true);
    await next;
    await second;
    expect(secondStarted).toBe(true);
    await limiter.close();
  });

  it("caps calls in flight per model across every limiter sharing the Redis id", async () => {
    const shared = options({ redisUrl, maxConcurrent: 2 });
    const a = new QuotaLimiter(shared, logger);
    const b = new QuotaLimiter(shared, logger);
    let running = 0;
    let peak = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const task = async () => {
      running += 1;
      peak = Math.max(peak, running);
      await gate;
      running -= 1;
    };
    try {
      const all = Promise.all(Array.from({ length: 6 }, (_, k) => (k % 2 ? a : b).schedule(call(), task)));
      await until(() => running === 2 && a.queued() + b.queued() === 4);
      release();
      await all;
      expect(peak).toBe(2);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("recreates its Bottleneck limiter when Redis lost its settings (a restart that kept no data)", async () => {
    const o = options({ redisUrl });
    const limiter = new QuotaLimiter(o, logger);
    const settingsKey = `b_${o.id}:${call().model}:slots_settings`;
    try {
      expect(await limiter.schedule(call(), () => Promise.resolve(1))).toBe(1);
      expect(await redis.exists(settingsKey)).toBe(1);
      const keys = await redis.keys(`b_${o.id}:*`);
      await redis.del(...keys);
      expect(await limiter.schedule(call(), () => Promise.resolve(2))).toBe(2);
      // Back on Redis (recreated), not on a local fallback.
      expect(await redis.exists(settingsKey)).toBe(1);
    } finally {
      await limiter.close();
      const left = await redis.keys(`b_${o.id}:*`);
      if (left.length > 0) await redis.del(...left);
    }
  });

  it("rejects waiting calls with SHUTTING_DOWN when it closes", async () => {
    const limiter = new QuotaLimiter(options({ maxConcurrent: 1 }), logger);
    let release!: () => void;
    const running = limiter.schedule(call(), () => new Promise<void>((r) => (release = r)));
    const waiting = limiter.schedule(call(), () => Promise.resolve());
    await until(() => limiter.queued() === 1);
    const closed = limiter.close();
    await expect(waiting).rejects.toMatchObject({ code: "SHUTTING_DOWN" });
    release();
    await running;
    await closed;
    await expect(limiter.schedule(call(), () => Promise.resolve())).rejects.toMatchObject({ code: "SHUTTING_DOWN" });
  });

  it("keeps running calls locally when Redis is unreachable", async () => {
    const limiter = new QuotaLimiter(options({ redisUrl: "redis://127.0.0.1:9", quotaFor: () => ({ rpm: 6000, tpm: 0 }), localShare: 0.5 }), logger);
    try {
      const results = await Promise.all([1, 2, 3].map((n) => limiter.schedule(call(), () => Promise.resolve(n))));
      expect(results).toEqual([1, 2, 3]);
    } finally {
      await limiter.close();
    }
  });
});

/** Whether `promise` settles before any timer fires (whenCanStart passes at once or waits on a timer). */
async function settledBeforeTimers(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  return settled;
}
