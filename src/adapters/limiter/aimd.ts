import type { Redis } from "ioredis";

/** Adaptive rate state of one model: the share of its quota to use now. */
export interface AimdState {
  /** 0 < factor <= 1: the share of the configured quota in use. */
  factor: number;
  /** When the factor was last lowered (epoch ms). */
  lastDecreaseAt: number;
  /** When the factor was last raised (epoch ms). */
  lastIncreaseAt: number;
}

export interface AimdSettings {
  /** Multiply the factor by this on a throttle (multiplicative decrease). */
  decrease: number;
  /** Throttles closer together than this count as one (a burst of 429s is one signal). */
  decreaseGapMs: number;
  /** Add this to the factor per quiet interval (additive increase). */
  increaseStep: number;
  /** A quiet interval: no throttle for this long. */
  increaseEveryMs: number;
  minFactor: number;
}

export const DEFAULT_AIMD: AimdSettings = { decrease: 0.7, decreaseGapMs: 2_000, increaseStep: 0.05, increaseEveryMs: 5_000, minFactor: 0.05 };

/** Where the state lives: in this process, or in Redis so the whole fleet adapts as one. */
export interface AimdStore {
  read(now: number): Promise<AimdState>;
  throttled(now: number, s: AimdSettings): Promise<AimdState>;
  quietTick(now: number, s: AimdSettings): Promise<AimdState>;
}

/** Pure transition on a throttle: lower the factor once per gap. */
export function onThrottle(state: AimdState, now: number, s: AimdSettings): AimdState {
  const decrease = now - state.lastDecreaseAt >= s.decreaseGapMs;
  return {
    factor: decrease ? Math.max(s.minFactor, state.factor * s.decrease) : state.factor,
    lastDecreaseAt: decrease ? now : state.lastDecreaseAt,
    lastIncreaseAt: state.lastIncreaseAt,
  };
}

/** Pure transition on a quiet tick: raise the factor a step if nothing was throttled for a while. */
export function onQuietTick(state: AimdState, now: number, s: AimdSettings): AimdState {
  if (state.factor >= 1 || now - Math.max(state.lastDecreaseAt, state.lastIncreaseAt) < s.increaseEveryMs) return state;
  return { ...state, factor: Math.min(1, state.factor + s.increaseStep), lastIncreaseAt: now };
}

/** State in this process only. */
export class LocalAimdStore implements AimdStore {
  #state: AimdState = { factor: 1, lastDecreaseAt: 0, lastIncreaseAt: 0 };
  read(): Promise<AimdState> {
    return Promise.resolve(this.#state);
  }
  throttled(now: number, s: AimdSettings): Promise<AimdState> {
    this.#state = onThrottle(this.#state, now, s);
    return Promise.resolve(this.#state);
  }
  quietTick(now: number, s: AimdSettings): Promise<AimdState> {
    this.#state = onQuietTick(this.#state, now, s);
    return Promise.resolve(this.#state);
  }
}

// The same transitions as onThrottle / onQuietTick, atomic in Redis. A hash per model:
// f = factor, d = lastDecreaseAt, i = lastIncreaseAt. Keys expire after a day of silence.
const READ = `
local f = tonumber(redis.call('HGET', KEYS[1], 'f') or '1')
local d = tonumber(redis.call('HGET', KEYS[1], 'd') or '0')
local i = tonumber(redis.call('HGET', KEYS[1], 'i') or '0')`;
const WRITE = `
redis.call('HSET', KEYS[1], 'f', tostring(f), 'd', tostring(d), 'i', tostring(i))
redis.call('PEXPIRE', KEYS[1], 86400000)
return {tostring(f), tostring(d), tostring(i)}`;

const THROTTLE_LUA = `${READ}
local now, mult, gap, minf = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if now - d >= gap then f = math.max(minf, f * mult); d = now end
${WRITE}`;

const TICK_LUA = `${READ}
local now, every, step = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if f < 1 and now - math.max(d, i) >= every then f = math.min(1, f + step); i = now end
${WRITE}`;

/** Fleet-wide state: every process reads and changes the same factor, atomically. */
export class RedisAimdStore implements AimdStore {
  readonly #redis: Redis;
  readonly #key: string;

  constructor(redis: Redis, key: string) {
    this.#redis = redis;
    this.#key = key;
  }

  async read(): Promise<AimdState> {
    const h = await this.#redis.hgetall(this.#key);
    return { factor: Number(h.f ?? 1), lastDecreaseAt: Number(h.d ?? 0), lastIncreaseAt: Number(h.i ?? 0) };
  }

  async throttled(now: number, s: AimdSettings): Promise<AimdState> {
    return toState(await this.#redis.eval(THROTTLE_LUA, 1, this.#key, now, s.decrease, s.decreaseGapMs, s.minFactor));
  }

  async quietTick(now: number, s: AimdSettings): Promise<AimdState> {
    return toState(await this.#redis.eval(TICK_LUA, 1, this.#key, now, s.increaseEveryMs, s.increaseStep));
  }
}

function toState(reply: unknown): AimdState {
  const [f, d, i] = reply as [string, string, string];
  return { factor: Number(f), lastDecreaseAt: Number(d), lastIncreaseAt: Number(i) };
}
