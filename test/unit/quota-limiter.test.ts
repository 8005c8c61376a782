import { afterEach, describe, expect, it } from "vitest";
import type { AimdSettings } from "../../src/adapters/limiter/aimd.ts";
import { type ModelQuota, QuotaLimiter } from "../../src/adapters/limiter/quota-limiter.ts";
import { ModelCallError, ShuttingDownError } from "../../src/core/errors/errors.ts";
import type { ModelCall } from "../../src/core/quota/rate-limiter.ts";
import { silentLogger } from "../support/fakes.ts";
import { until } from "../support/until.ts";
import { FakeClock } from "./fake-clock.ts";

const MODEL = "llama3.3-70b";
/** A reservation of 12,000 tokens (input 2,000 + maxTokens 10,000), output burning 1 quota token each. */
const reserve = { inputTokens: 2_000, cacheTokens: 0, maxTokens: 10_000, outputBurnDown: 1 };
const call = (): ModelCall => ({ model: MODEL, tokens: 12_000, reserve: { ...reserve } });

let open: QuotaLimiter[] = [];
afterEach(async () => {
  await Promise.all(open.map((l) => l.close()));
  open = [];
});

/** A local limiter (no Redis) on a fake clock: a one-minute window with no margin, 20,000 tokens a minute. */
function setup(quota: ModelQuota = { rpm: 0, tpm: 20_000 }, aimd?: AimdSettings) {
  const clock = new FakeClock();
  const limiter = new QuotaLimiter(
    { maxConcurrent: 50, minTimeMs: 0, id: "unit", quotaFor: () => quota, localShare: 1, timing: { windowMs: 60_000, marginMs: 0 }, aimd, clock },
    silentLogger(),
  );
  open.push(limiter);
  return { clock, limiter };
}

/** Schedule a call whose task records when it started (fake clock ms) and then answers at once. */
function start(limiter: QuotaLimiter, clock: FakeClock, c: ModelCall = call()) {
  const run = { call: c, startedAt: undefined as number | undefined, done: undefined as unknown as Promise<string> };
  run.done = limiter.schedule(c, () => {
    run.startedAt = clock.now();
    return Promise.resolve("answer");
  });
  run.done.catch(() => undefined);
  return run;
}

describe("QuotaLimiter on a fake clock", () => {
  it("starts a call whose reservation fits, and holds the next until the first leaves the window", async () => {
    const { clock, limiter } = setup();
    const t0 = clock.now();
    const a = start(limiter, clock);
    await expect(a.done).resolves.toBe("answer");
    expect(a.startedAt).toBe(t0);
    // 12,000 + 12,000 is over 20,000: b waits for a's reservation to leave the window, 60 s on.
    const b = start(limiter, clock);
    await until(() => !limiter.canStart([MODEL]), "b refused by the full window");
    expect(b.startedAt).toBeUndefined();
    expect(limiter.queued()).toBe(1);
    await clock.advance(59_000);
    expect(b.startedAt).toBeUndefined();
    await clock.advance(1_000);
    await expect(b.done).resolves.toBe("answer");
    expect(b.startedAt).toBe(t0 + 60_000);
    expect(limiter.canStart([MODEL])).toBe(true);
    expect(limiter.queued()).toBe(0);
  });

  it("settles an answered call to its real cost, and releases a failed call's reservation", async () => {
    const { clock, limiter } = setup();
    const a = start(limiter, clock);
    await a.done;
    // input 2,000 + output 500 x burn-down 1: the window now holds 2,500 of a's 12,000.
    limiter.report(a.call, { outcome: "ok", usage: { inputTokens: 2_000, outputTokens: 500 } });
    // Past the pacing span (the last sixth of the window), so only the minute's limit counts.
    await clock.advance(10_001);
    const b = start(limiter, clock);
    await expect(b.done).resolves.toBe("answer");
    expect(b.startedAt).toBe(clock.now());
    // 2,500 + 12,000 + 7,000 is over 20,000: c waits (it would fit beside b alone, had a been released, not settled).
    await clock.advance(10_001);
    const c = start(limiter, clock, { model: MODEL, tokens: 7_000, reserve: { ...reserve, maxTokens: 5_000 } });
    await until(() => !limiter.canStart([MODEL]), "c refused by the full window");
    expect(c.startedAt).toBeUndefined();
    // b failed (Bedrock counted nothing): its reservation goes, and c fits at once.
    limiter.report(b.call, { outcome: "failed" });
    await until(() => c.startedAt !== undefined, "c started once b's reservation was released");
    expect(c.startedAt).toBe(clock.now());
  });

  it("cools a throttled model, so less of its quota fits, and warms it again after quiet", async () => {
    // Halve the rate on a throttle; raise it a quarter after each 20 s without one.
    const { clock, limiter } = setup({ rpm: 0, tpm: 20_000 }, { decrease: 0.5, decreaseGapMs: 5_000, increaseStep: 0.25, increaseEveryMs: 20_000, minFactor: 0.05 });
    const t0 = clock.now();
    const nineK = (): ModelCall => ({ model: MODEL, tokens: 9_000, reserve: { ...reserve, maxTokens: 7_000 } });
    const a = start(limiter, clock, nineK());
    await a.done;
    limiter.report(a.call, { outcome: "throttled" });
    await clock.advance(0);
    expect(limiter.rateFactors()[MODEL]).toBe(0.5);
    // The throttle released a's reservation (Bedrock counted nothing); b takes 9,000 of the 10,000 now allowed.
    const b = start(limiter, clock, nineK());
    await b.done;
    await clock.advance(10_000);
    // 9,000 + 9,000 would fit 20,000 but not the cooled 10,000: c waits.
    const c = start(limiter, clock, nineK());
    await until(() => !limiter.canStart([MODEL]), "c refused by the cooled window");
    await clock.advance(10_000);
    expect(limiter.rateFactors()[MODEL]).toBe(0.75);
    expect(c.startedAt).toBeUndefined();
    // At the full rate again (40 s after the throttle) c fits beside b, 20 s before b leaves the window.
    await clock.advance(20_000);
    expect(limiter.rateFactors()[MODEL]).toBe(1);
    await expect(c.done).resolves.toBe("answer");
    expect(c.startedAt).toBe(t0 + 40_000);
  });

  it("pauses a model whose daily quota is spent until it resets, and lets receives for other models through", async () => {
    const { clock, limiter } = setup();
    const a = start(limiter, clock);
    await a.done;
    const resetsAt = clock.now() + 3_600_000;
    limiter.report(a.call, { outcome: "quota-exhausted", resetsAt });
    expect(limiter.pausedUntil(MODEL)).toBe(resetsAt);
    const refused = await limiter.schedule(call(), () => Promise.resolve("never")).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ModelCallError);
    expect((refused as ModelCallError).code).toBe("MODEL_QUOTA_EXHAUSTED");
    expect(limiter.canStart([MODEL])).toBe(false);
    expect(limiter.canStart([MODEL, "nova-lite"])).toBe(true);
    let receiving = false;
    const gate = limiter.whenCanStart([MODEL]).then(() => (receiving = true));
    await clock.advance(3_599_000);
    expect(receiving).toBe(false);
    await clock.advance(1_000);
    await gate;
    expect(limiter.pausedUntil(MODEL)).toBeUndefined();
    await expect(start(limiter, clock).done).resolves.toBe("answer");
  });

  it("holds receives while the model's window has refused a waiting call, and lets them through once it starts", async () => {
    const { clock, limiter } = setup();
    expect(limiter.canStart([MODEL])).toBe(true);
    await start(limiter, clock).done;
    // One call in the window: another may still start (the window has not refused anything).
    expect(limiter.canStart([MODEL])).toBe(true);
    const b = start(limiter, clock);
    await until(() => !limiter.canStart([MODEL]), "b refused by the full window");
    expect(limiter.canStart([])).toBe(true);
    expect(limiter.canStart([MODEL, "nova-lite"])).toBe(true);
    let receiving = false;
    const gate = limiter.whenCanStart([MODEL]).then(() => (receiving = true));
    await clock.advance(30_000);
    expect(receiving).toBe(false);
    await clock.advance(30_000);
    await gate;
    expect(b.startedAt).toBeDefined();
  });

  it("admits at most rpm calls a minute and paces them over the window", async () => {
    const { clock, limiter } = setup({ rpm: 12, tpm: 0 });
    const t0 = clock.now();
    const runs = Array.from({ length: 13 }, () => start(limiter, clock, { model: MODEL, tokens: 1 }));
    const started = () => runs.filter((r) => r.startedAt !== undefined).length;
    // The last sixth of the window may hold ceil(12 x 1.25 / 6) = 3 calls: 3 now, 3 more 10 s on, and so on.
    for (const [k, ms] of [0, 10_000, 10_000, 10_000].entries()) {
      await clock.advance(ms);
      await until(() => started() === 3 * (k + 1), `${3 * (k + 1)} calls started`);
    }
    expect(runs.slice(0, 12).map((r) => (r.startedAt ?? 0) - t0)).toEqual([0, 0, 0, 10_000, 10_000, 10_000, 20_000, 20_000, 20_000, 30_000, 30_000, 30_000]);
    // The 13th waits for the first to leave the minute.
    await until(() => !limiter.canStart([MODEL]), "the 13th refused by the full window");
    await clock.advance(29_999);
    expect(runs[12]?.startedAt).toBeUndefined();
    await clock.advance(1);
    await expect(runs[12]?.done).resolves.toBe("answer");
    expect(runs[12]?.startedAt).toBe(t0 + 60_000);
  });

  it("fails waiting calls and receives with ShuttingDownError on close", async () => {
    const { clock, limiter } = setup();
    await start(limiter, clock).done;
    const b = start(limiter, clock);
    await until(() => !limiter.canStart([MODEL]), "b refused by the full window");
    const gate = limiter.whenCanStart([MODEL]).catch((e: unknown) => e);
    await limiter.close();
    await expect(b.done).rejects.toBeInstanceOf(ShuttingDownError);
    expect(await gate).toBeInstanceOf(Error);
    await expect(limiter.schedule(call(), () => Promise.resolve("late"))).rejects.toBeInstanceOf(ShuttingDownError);
  });
});
