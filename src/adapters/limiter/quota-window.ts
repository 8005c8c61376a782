import type { Redis } from "ioredis";

/**
 * The per-minute quotas as Bedrock counts them: a rolling 60 s window of the calls it
 * accepted, each holding a token count that is the reservation (input + cache + maxTokens)
 * while the call runs and the settled cost after it (docs: quotas-token-burndown). A call is
 * admitted only if it fits both limits now, so a limiter that keeps the same log never sends
 * a call Bedrock would refuse, and needs no retry-after (Bedrock sends none on a 429).
 */
export interface WindowLimits {
  /** Calls per window; 0 = no limit. */
  rpm: number;
  /** Tokens per window; 0 = no limit. */
  tpm: number;
}

/** Admitted, or how long until the call could fit (ms). */
export type Admission = { admitted: true } | { admitted: false; retryInMs: number };

/** Where a window lives: in this process, or in Redis for the whole fleet. */
export interface WindowStore {
  /** Record call `id` with `tokens` if it fits `limits`, atomically. */
  tryAdmit(id: string, tokens: number, limits: WindowLimits, now: number): Promise<Admission>;
  /** Replace an admitted call's tokens (its reservation) by what it finally cost. */
  settle(id: string, reserved: number, tokens: number): Promise<void>;
  /** Forget an admitted call that Bedrock refused (a refused call counts nothing). */
  release(id: string, reserved: number): Promise<void>;
  /** Calls and tokens in the window now (reservations and settled costs), for choosing between pools. */
  usage(now: number): Promise<WindowUsage>;
}

/** What a window holds now. */
export interface WindowUsage {
  requests: number;
  tokens: number;
}

/**
 * How long entries stay in the window. Bedrock's window is 60 s from when it received the
 * call, a moment after labelq admitted it: entries are kept a little longer here, so an
 * entry never leaves labelq's window while it is still in Bedrock's.
 */
export interface WindowTiming {
  windowMs: number;
  marginMs: number;
}

export const BEDROCK_WINDOW: WindowTiming = { windowMs: 60_000, marginMs: 300 };

/**
 * Pacing inside the window: the last sixth of it may hold at most a sixth of the limits plus
 * this slack. A backlog then starts at the quota's pace instead of in one burst at the start
 * of each minute, which a service may also meter over shorter spans; the steady rate is not
 * affected (it fills a sixth of the window with a sixth of the quota).
 */
const PACE_PARTS = 6;
const PACE_SLACK = 1.25;

/** The limits of the pacing span. */
function paceLimits(limits: WindowLimits): WindowLimits {
  const part = (n: number) => (n === 0 ? 0 : Math.max(1, Math.ceil((n * PACE_SLACK) / PACE_PARTS)));
  return { rpm: part(limits.rpm), tpm: part(limits.tpm) };
}

interface Entry {
  id: string;
  at: number;
  tokens: number;
}

/** A window in this process (one worker, or the fallback while Redis is away). */
export class LocalWindowStore implements WindowStore {
  readonly #timing: WindowTiming;
  #entries: Entry[] = [];

  constructor(timing: WindowTiming = BEDROCK_WINDOW) {
    this.#timing = timing;
  }

  tryAdmit(id: string, tokens: number, limits: WindowLimits, now: number): Promise<Admission> {
    const span = this.#timing.windowMs + this.#timing.marginMs;
    this.#entries = this.#entries.filter((e) => e.at > now - span);
    const paceSpan = this.#timing.windowMs / PACE_PARTS;
    const verdict = admit(this.#entries, tokens, limits, now, span) ?? admit(this.#entries.filter((e) => e.at > now - paceSpan), tokens, paceLimits(limits), now, paceSpan) ?? { admitted: true as const };
    if (verdict.admitted) this.#entries.push({ id, at: now, tokens });
    return Promise.resolve(verdict);
  }

  settle(id: string, _reserved: number, tokens: number): Promise<void> {
    const entry = this.#entries.find((e) => e.id === id);
    if (entry) entry.tokens = tokens;
    return Promise.resolve();
  }

  release(id: string, _reserved?: number): Promise<void> {
    this.#entries = this.#entries.filter((e) => e.id !== id);
    return Promise.resolve();
  }

  usage(now: number): Promise<WindowUsage> {
    const live = this.#entries.filter((e) => e.at > now - this.#timing.windowMs - this.#timing.marginMs);
    return Promise.resolve({ requests: live.length, tokens: live.reduce((n, e) => n + e.tokens, 0) });
  }
}

/** The admission rule shared by both stores (the Lua script below is the same rule): a refusal, or undefined when the call fits. */
function admit(entries: readonly Entry[], tokens: number, limits: WindowLimits, now: number, span: number): Admission | undefined {
  const until = (at: number) => Math.max(1, at + span - now);
  if (limits.rpm > 0 && entries.length + 1 > limits.rpm) {
    return { admitted: false, retryInMs: until(entries[entries.length - limits.rpm]!.at) };
  }
  if (limits.tpm > 0) {
    let used = entries.reduce((n, e) => n + e.tokens, 0);
    // A call larger than the whole quota can only ever go alone, into an empty window.
    if (used + tokens > limits.tpm && entries.length > 0) {
      for (const e of entries) {
        used -= e.tokens;
        if (used + tokens <= limits.tpm) return { admitted: false, retryInMs: until(e.at) };
      }
      return { admitted: false, retryInMs: until(entries[entries.length - 1]!.at) };
    }
  }
  return undefined;
}

/**
 * The same window in Redis, shared by every process with the same key: a sorted set of
 * "id:tokens" members scored by admission time, checked and appended in one script so two
 * processes never both take the last room.
 */
export class RedisWindowStore implements WindowStore {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #timing: WindowTiming;

  constructor(redis: Redis, key: string, timing: WindowTiming = BEDROCK_WINDOW) {
    this.#redis = redis;
    this.#key = key;
    this.#timing = timing;
  }

  async tryAdmit(id: string, tokens: number, limits: WindowLimits, now: number): Promise<Admission> {
    const span = this.#timing.windowMs + this.#timing.marginMs;
    const pace = paceLimits(limits);
    const reply = (await this.#redis.eval(ADMIT, 1, this.#key, now, span, limits.rpm, limits.tpm, `${id}:${tokens}`, tokens, this.#timing.windowMs / PACE_PARTS, pace.rpm, pace.tpm)) as [
      number,
      number,
    ];
    return reply[0] === 1 ? { admitted: true } : { admitted: false, retryInMs: Math.max(1, reply[1]) };
  }

  async settle(id: string, reserved: number, tokens: number): Promise<void> {
    await this.#redis.eval(SETTLE, 1, this.#key, `${id}:${reserved}`, `${id}:${tokens}`);
  }

  async release(id: string, reserved: number): Promise<void> {
    await this.#redis.zrem(this.#key, `${id}:${reserved}`);
  }

  async usage(now: number): Promise<WindowUsage> {
    const members = await this.#redis.zrangebyscore(this.#key, `(${now - this.#timing.windowMs - this.#timing.marginMs}`, "+inf");
    // Each member is "id:tokens", as ADMIT writes it.
    const tokens = members.reduce((n, m) => n + Number(m.slice(m.lastIndexOf(":") + 1)), 0);
    return { requests: members.length, tokens };
  }
}

const ADMIT = `
local key, now, span = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local rpm, tpm, member, tokens = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local paceSpan, paceRpm, paceTpm = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
local all = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
-- The same rule as admit() in TypeScript: {0, wait} or nil when the call fits.
local function check(entries, windowSpan, limRpm, limTpm)
  local count = #entries / 2
  local function wait(at) return math.max(1, at + windowSpan - now) end
  if limRpm > 0 and count + 1 > limRpm then
    return {0, wait(tonumber(entries[(count - limRpm) * 2 + 2]))}
  end
  if limTpm > 0 and count > 0 then
    local used = 0
    for i = 1, #entries, 2 do used = used + tonumber(string.match(entries[i], ':(%d+)$')) end
    if used + tokens > limTpm then
      for i = 1, #entries, 2 do
        used = used - tonumber(string.match(entries[i], ':(%d+)$'))
        if used + tokens <= limTpm then return {0, wait(tonumber(entries[i + 1]))} end
      end
      return {0, wait(tonumber(entries[#entries]))}
    end
  end
  return nil
end
local refused = check(all, span, rpm, tpm)
if refused then return refused end
local recent = {}
for i = 1, #all, 2 do
  if tonumber(all[i + 1]) > now - paceSpan then
    recent[#recent + 1] = all[i]
    recent[#recent + 1] = all[i + 1]
  end
end
refused = check(recent, paceSpan, paceRpm, paceTpm)
if refused then return refused end
redis.call('ZADD', key, now, member)
redis.call('PEXPIRE', key, span * 2)
return {1, 0}
`;

const SETTLE = `
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if at then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZADD', KEYS[1], at, ARGV[2])
end
return 1
`;
