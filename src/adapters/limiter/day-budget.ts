import type { Redis } from "ioredis";

/**
 * Tokens per day as labelq counts them ahead of Bedrock, per lane (pool and model). Bedrock's
 * "Model invocation max tokens per day" counts input and output tokens together (docs:
 * quotas-runtime, quotas-token-burndown "Tokens per day (TPD) ... input and output ... in one
 * day"), output at the model's burn-down rate ("1 output token consumes 5 tokens from your
 * quotas"). A call is counted like the minute window counts it: its reservation (input + cache +
 * maxTokens) when it starts, settled to input + cache writes + output x burn-down when it ends.
 *
 * The day: AWS does not say whether it is a UTC calendar day or a rolling 24 hours. labelq counts
 * a rolling 24 hours, the cautious reading: the tokens of the last 24 hours are never fewer than
 * those since the last UTC midnight, so a call this count admits fits under either reading.
 * Calls are kept in buckets (one a minute); a bucket leaves the day only when its last moment is
 * 24 hours (and a margin) old, so the count errs high by at most one bucket.
 */
export interface DayTiming {
  dayMs: number;
  bucketMs: number;
  /** Bedrock records a call a moment after labelq counts it: keep it that much longer. */
  marginMs: number;
}

export const BEDROCK_DAY: DayTiming = { dayMs: 86_400_000, bucketMs: 60_000, marginMs: 300 };

/** Counted (in `bucket`), or refused: the day cannot take the call until `fitsAt` (epoch ms). `used`: the day's tokens before the call. */
export type DayAdmission = { admitted: true; used: number; bucket: number } | { admitted: false; used: number; fitsAt: number };

/** Where a lane's day lives: in this process, or in Redis for the whole fleet. */
export interface DayStore {
  /** Count `tokens` at `now` if the day's tokens and them fit `tpd`, atomically. A call larger than tpd goes only into an empty day. */
  tryReserve(tokens: number, tpd: number, now: number): Promise<DayAdmission>;
  /** Replace a counted reservation by what the call finally cost. */
  settle(bucket: number, reserved: number, tokens: number): Promise<void>;
  /** Forget a counted reservation (Bedrock refused the call, or it never started). */
  release(bucket: number, reserved: number): Promise<void>;
  /** The tokens counted in the day now. */
  used(now: number): Promise<number>;
}

/** The first bucket still in the day at `now`. */
function oldestBucket(now: number, t: DayTiming): number {
  return Math.floor((now - t.dayMs - t.marginMs) / t.bucketMs);
}

/** When bucket `b` leaves the day. */
function bucketLeavesAt(b: number, t: DayTiming): number {
  return (b + 1) * t.bucketMs + t.dayMs + t.marginMs;
}

/**
 * The admission rule both stores apply (the Lua script below is the same rule): undefined when
 * `tokens` fits, else when it will, as the oldest buckets leave. `buckets` in time order.
 */
export function dayRefusal(buckets: readonly [number, number][], tokens: number, tpd: number, t: DayTiming): number | undefined {
  let used = buckets.reduce((n, [, v]) => n + v, 0);
  if (used + tokens <= tpd || used === 0) return undefined;
  for (const [b, v] of buckets) {
    used -= v;
    if (used + tokens <= tpd) return bucketLeavesAt(b, t);
  }
  return bucketLeavesAt(buckets[buckets.length - 1]![0], t);
}

/** A day in this process (one worker, or the fallback while Redis is away). */
export class LocalDayStore implements DayStore {
  readonly #timing: DayTiming;
  readonly #buckets = new Map<number, number>();

  constructor(timing: DayTiming = BEDROCK_DAY) {
    this.#timing = timing;
  }

  tryReserve(tokens: number, tpd: number, now: number): Promise<DayAdmission> {
    const live = this.#live(now);
    const used = live.reduce((n, [, v]) => n + v, 0);
    const fitsAt = dayRefusal(live, tokens, tpd, this.#timing);
    if (fitsAt !== undefined) return Promise.resolve({ admitted: false, used, fitsAt });
    const bucket = Math.floor(now / this.#timing.bucketMs);
    this.#buckets.set(bucket, (this.#buckets.get(bucket) ?? 0) + tokens);
    return Promise.resolve({ admitted: true, used, bucket });
  }

  settle(bucket: number, reserved: number, tokens: number): Promise<void> {
    const v = this.#buckets.get(bucket);
    if (v !== undefined) this.#buckets.set(bucket, v - reserved + tokens);
    return Promise.resolve();
  }

  release(bucket: number, reserved: number): Promise<void> {
    return this.settle(bucket, reserved, 0);
  }

  used(now: number): Promise<number> {
    return Promise.resolve(this.#live(now).reduce((n, [, v]) => n + v, 0));
  }

  /** The buckets still in the day, in time order; older ones are dropped. */
  #live(now: number): [number, number][] {
    const oldest = oldestBucket(now, this.#timing);
    for (const b of this.#buckets.keys()) if (b < oldest) this.#buckets.delete(b);
    return [...this.#buckets].sort((a, b) => a[0] - b[0]);
  }
}

/**
 * The same day in Redis, shared by every process with the same key: a hash of bucket (epoch ms /
 * bucketMs) to tokens, checked and counted in one script so two processes never both take the
 * last room of the day.
 */
export class RedisDayStore implements DayStore {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #timing: DayTiming;

  constructor(redis: Redis, key: string, timing: DayTiming = BEDROCK_DAY) {
    this.#redis = redis;
    this.#key = key;
    this.#timing = timing;
  }

  async tryReserve(tokens: number, tpd: number, now: number): Promise<DayAdmission> {
    const t = this.#timing;
    const reply = (await this.#redis.eval(RESERVE, 1, this.#key, now, t.dayMs, t.bucketMs, t.marginMs, tpd, Math.ceil(tokens))) as [number, number, number];
    return reply[0] === 1 ? { admitted: true, used: reply[1], bucket: reply[2] } : { admitted: false, used: reply[1], fitsAt: reply[2] };
  }

  async settle(bucket: number, reserved: number, tokens: number): Promise<void> {
    await this.#redis.eval(ADJUST, 1, this.#key, bucket, Math.ceil(tokens) - Math.ceil(reserved));
  }

  async release(bucket: number, reserved: number): Promise<void> {
    await this.#redis.eval(ADJUST, 1, this.#key, bucket, -Math.ceil(reserved));
  }

  async used(now: number): Promise<number> {
    const all = await this.#redis.hgetall(this.#key);
    const oldest = oldestBucket(now, this.#timing);
    return Object.entries(all).reduce((n, [b, v]) => (Number(b) >= oldest ? n + Number(v) : n), 0);
  }
}

const RESERVE = `
local key, now, dayMs, bucketMs, marginMs = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tpd, tokens = tonumber(ARGV[5]), tonumber(ARGV[6])
local oldest = math.floor((now - dayMs - marginMs) / bucketMs)
local flat = redis.call('HGETALL', key)
local buckets, used = {}, 0
for i = 1, #flat, 2 do
  local b, v = tonumber(flat[i]), tonumber(flat[i + 1])
  if b < oldest then redis.call('HDEL', key, flat[i]) else
    used = used + v
    buckets[#buckets + 1] = {b, v}
  end
end
-- The same rule as dayRefusal() in TypeScript: {0, used, fitsAt} when the call does not fit.
if used + tokens > tpd and used > 0 then
  table.sort(buckets, function(x, y) return x[1] < y[1] end)
  local left = used
  for _, e in ipairs(buckets) do
    left = left - e[2]
    if left + tokens <= tpd then return {0, used, (e[1] + 1) * bucketMs + dayMs + marginMs} end
  end
  return {0, used, (buckets[#buckets][1] + 1) * bucketMs + dayMs + marginMs}
end
local bucket = math.floor(now / bucketMs)
redis.call('HINCRBY', key, string.format('%d', bucket), tokens)
redis.call('PEXPIRE', key, dayMs + marginMs + 2 * bucketMs)
return {1, used, bucket}
`;

const ADJUST = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2]) end
return 1
`;
