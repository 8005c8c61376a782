import { describe, expect, it } from "vitest";
import { DEFAULT_AIMD, onQuietTick, onThrottle } from "../../src/adapters/limiter/aimd.ts";
import { feedbackForError, reservationFor, reservedTokens, settledTokens } from "../../src/core/quota/bedrock-quota.ts";
import { LocalWindowStore } from "../../src/adapters/limiter/quota-window.ts";
import { ModelCallError } from "../../src/core/errors/errors.ts";

const fresh = { factor: 1, lastDecreaseAt: 0, lastIncreaseAt: 0 };

describe("AIMD", () => {
  it("lowers the factor multiplicatively on a throttle, once per burst of throttles", () => {
    const a = onThrottle(fresh, 10_000, DEFAULT_AIMD);
    expect(a.factor).toBeCloseTo(0.7);
    const b = onThrottle(a, 10_500, DEFAULT_AIMD);
    expect(b.factor).toBeCloseTo(0.7);
    const c = onThrottle(b, 12_100, DEFAULT_AIMD);
    expect(c.factor).toBeCloseTo(0.49);
  });

  it("never goes below the minimum", () => {
    let s = fresh;
    for (let k = 1; k <= 40; k++) s = onThrottle(s, k * 3_000, DEFAULT_AIMD);
    expect(s.factor).toBe(DEFAULT_AIMD.minFactor);
  });

  it("raises the factor additively after each quiet interval, up to the full quota", () => {
    let s = onThrottle(fresh, 10_000, DEFAULT_AIMD);
    expect(onQuietTick(s, 12_000, DEFAULT_AIMD).factor).toBeCloseTo(0.7);
    s = onQuietTick(s, 15_000, DEFAULT_AIMD);
    expect(s.factor).toBeCloseTo(0.75);
    expect(onQuietTick(s, 17_000, DEFAULT_AIMD).factor).toBeCloseTo(0.75);
    for (let t = 20_000; t < 120_000; t += 5_000) s = onQuietTick(s, t, DEFAULT_AIMD);
    expect(s.factor).toBe(1);
  });
});

describe("Bedrock's reservation and settlement", () => {
  it("reserves input + cache + maxTokens and settles input + cache writes + output x burn-down", () => {
    const r = reservationFor({ outputBurnDown: 5 }, { inputTokens: 9_000, cacheTokens: 1_000, maxTokens: 8_000 });
    expect(reservedTokens(r)).toBe(18_000);
    expect(settledTokens(r, { inputTokens: 9_000, outputTokens: 2_000, cacheWriteInputTokens: 1_000 })).toBe(9_000 + 1_000 + 10_000);
  });

  it("releases cache reads at settlement, as Bedrock does", () => {
    const r = reservationFor({ outputBurnDown: 1 }, { inputTokens: 500, cacheTokens: 8_000, maxTokens: 1_000 });
    expect(reservedTokens(r)).toBe(9_500);
    expect(settledTokens(r, { inputTokens: 500, outputTokens: 200, cacheReadInputTokens: 8_000 })).toBe(700);
  });

  it("turns a failed call into the feedback the limiter needs", () => {
    expect(feedbackForError(new ModelCallError("MODEL_THROTTLED", "m", "429"))).toEqual({ outcome: "throttled" });
    expect(feedbackForError(new ModelCallError("MODEL_QUOTA_EXHAUSTED", "m", "day", { resetsAt: 42 }))).toEqual({ outcome: "quota-exhausted", resetsAt: 42 });
    expect(feedbackForError(new ModelCallError("MODEL_UNAVAILABLE", "m", "500"))).toEqual({ outcome: "failed" });
    expect(feedbackForError(new Error("socket"))).toEqual({ outcome: "failed" });
  });
});

describe("the rolling-minute window", () => {
  const timing = { windowMs: 60_000, marginMs: 300 };

  it("admits calls while both limits hold, and says when the next one fits", async () => {
    const w = new LocalWindowStore(timing);
    expect(await w.tryAdmit("a", 100, { rpm: 2, tpm: 0 }, 1_000)).toEqual({ admitted: true });
    // Paced: the last sixth of the window (10 s) holds at most a sixth of the limit, plus slack.
    expect(await w.tryAdmit("b", 100, { rpm: 2, tpm: 0 }, 2_000)).toEqual({ admitted: false, retryInMs: 9_000 });
    expect(await w.tryAdmit("b", 100, { rpm: 2, tpm: 0 }, 11_000)).toEqual({ admitted: true });
    // The third request waits for the first to leave the window (60 s + margin after it).
    expect(await w.tryAdmit("c", 100, { rpm: 2, tpm: 0 }, 12_000)).toEqual({ admitted: false, retryInMs: 49_300 });
    expect(await w.tryAdmit("c", 100, { rpm: 2, tpm: 0 }, 61_301)).toEqual({ admitted: true });
  });

  it("holds a reservation while the call runs, and frees the difference when it settles", async () => {
    const w = new LocalWindowStore(timing);
    const limits = { rpm: 0, tpm: 120_000 };
    // 120,000 a minute paces at 25,000 per 10 s.
    expect((await w.tryAdmit("a", 18_000, limits, 0)).admitted).toBe(true);
    expect((await w.tryAdmit("b", 18_000, limits, 10)).admitted).toBe(false);
    await w.settle("a", 18_000, 2_000);
    expect((await w.tryAdmit("b", 18_000, limits, 20)).admitted).toBe(true);
    // A refused call counts nothing.
    await w.release("b", 18_000);
    expect((await w.tryAdmit("c", 18_000, limits, 30)).admitted).toBe(true);
  });

  it("says a tokens-bound call may start once enough of the oldest entries have left the window", async () => {
    const w = new LocalWindowStore(timing);
    const limits = { rpm: 0, tpm: 60_000 };
    // 60,000 a minute paces at 12,500 per 10 s: one 12,000 call every 10 s.
    for (const [id, at] of [["a", 0], ["b", 10_000], ["c", 20_000], ["d", 30_000], ["e", 40_000]] as const) {
      expect(await w.tryAdmit(id, 12_000, limits, at)).toEqual({ admitted: true });
    }
    // 60,000 used: a 20,000 call needs a and b gone; b leaves 60 s + margin after it came.
    expect(await w.tryAdmit("f", 20_000, limits, 50_000)).toEqual({ admitted: false, retryInMs: 20_300 });
    // An entry leaves exactly 60 s + margin after it came, the moment the refusal named: a at 60,300.
    expect(await w.tryAdmit("f", 12_000, limits, 60_299)).toEqual({ admitted: false, retryInMs: 1 });
    expect(await w.tryAdmit("f", 12_000, limits, 60_300)).toEqual({ admitted: true });
  });

  it("lets a call bigger than the whole quota go alone into an empty window", async () => {
    const w = new LocalWindowStore(timing);
    expect((await w.tryAdmit("a", 50_000, { rpm: 0, tpm: 20_000 }, 0)).admitted).toBe(true);
    expect((await w.tryAdmit("b", 1, { rpm: 0, tpm: 20_000 }, 1)).admitted).toBe(false);
  });
});
