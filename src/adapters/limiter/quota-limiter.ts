import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { ModelCallError, ShuttingDownError } from "../../core/errors/errors.ts";
import { type AimdSettings, type AimdState, type AimdStore, LocalAimdStore, RedisAimdStore } from "./aimd.ts";
import { reservedTokens, settledTokens } from "../../core/quota/bedrock-quota.ts";
import { CallSlots } from "./call-slots.ts";
import { isCredentialsRefusal, isPermissionRefusal, LIMITER_REDIS_OPTIONS } from "./redis-connection.ts";
import { backgroundClock, type Clock } from "../../core/util/clock.ts";
import { waitUntilCanStart } from "./start-gate.ts";
import { BEDROCK_DAY, type DayStore, type DayTiming, LocalDayStore, RedisDayStore } from "./day-budget.ts";
import { BEDROCK_WINDOW, LocalWindowStore, RedisWindowStore, type WindowStore, type WindowTiming } from "./quota-window.ts";
import type { ModelResponse } from "../../core/models/model-provider.ts";
import type { CallFeedback, ModelCall, RateLimiter } from "../../core/quota/rate-limiter.ts";
import type { Headroom } from "../../core/quota/pools.ts";
import type { LaneQuota } from "../../core/quota/pool-quota.ts";

type ModelUsage = ModelResponse["usage"];

/** A model's quota in one pool: the ceiling labelq stays under, not a target. 0 = no limit of that kind. */
export type ModelQuota = LaneQuota;

export interface QuotaLimiterOptions {
  /** Calls in flight per model: fleet-wide with a Redis URL (every process sharing `id`), else per process. */
  maxConcurrent: number;
  /** Minimum spacing between call starts per model: fleet-wide with a Redis URL, else per process. */
  minTimeMs: number;
  /** With a Redis URL every process sharing `id` shares each model's window and adaptive rate. */
  redisUrl?: string;
  id: string;
  quotaFor: (model: string) => ModelQuota;
  /** During a Redis outage each process falls back to a local window with this share of the quota. */
  localShare: number;
  aimd?: AimdSettings;
  /** Window length and safety margin; tests shorten them. */
  timing?: WindowTiming;
  /** The day a lane's tpd is counted over (rolling 24 h in one-minute buckets, day-budget.ts). */
  dayTiming?: DayTiming;
  /** Where the limiter reads the time and waits (the real clock, unref'd, unless a test drives it). */
  clock?: Clock;
}

/**
 * The adaptive factor only guards against what the window cannot see (another client on the
 * same account, a quota lower than configured): the window already keeps labelq under the
 * configured quota, so a throttle lowers the rate gently and the rate comes back quickly.
 */
export const QUOTA_AIMD: AimdSettings = { decrease: 0.85, decreaseGapMs: 5_000, increaseStep: 0.05, increaseEveryMs: 3_000, minFactor: 0.05 };

/**
 * A waiting call re-checks the window at least this often: another process's call may have
 * settled (given back most of its reservation) before any entry expires.
 */
const MAX_POLL_MS = 250;

/** How long a limiter waits for Redis at start before limiting locally instead. */
const REDIS_READY_TIMEOUT_MS = 2_000;
/** How often each lane raises its rate after quiet, checks on Redis after an outage, and re-tries its head waiter. */
const TICK_MS = 1_000;
/** How often an idle lane with a tpd reads its day again, for the gauges. */
const DAY_READ_EVERY_MS = 10_000;
/** How long after losing Redis a lane asks it again whether it is back. */
const REDIS_RECHECK_MS = 5_000;

/** Resolves when the client is ready, or after `ms` (never rejects: the caller degrades to local limits). */
function connected(redis: Redis, ms: number, clock: Clock): Promise<void> {
  if (redis.status === "ready") return Promise.resolve();
  const timeout = new AbortController();
  return new Promise((resolve) => {
    const done = () => {
      timeout.abort();
      redis.off("ready", done);
      resolve();
    };
    redis.once("ready", done);
    clock.sleep(ms, timeout.signal).then(done, () => undefined);
  });
}

/**
 * RateLimiter that keeps, per model, the same rolling-minute log Bedrock keeps (QuotaWindow):
 * a call starts only when its reservation (input + cache + maxTokens) fits, and is settled to
 * its real cost (output x burn-down) when it ends. Calls of one process wait in FIFO order;
 * with Redis the log is the fleet's. A spent daily quota pauses the model until it resets.
 * Calls in flight and the spacing of starts are Bottleneck's job (CallSlots): a call takes its
 * slot first and waits for the window inside it, so it never holds a reservation while it waits
 * for a slot.
 */
export class QuotaLimiter implements RateLimiter {
  readonly #options: QuotaLimiterOptions;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #redis: Redis | undefined;
  readonly #slots: CallSlots;
  /** Aborted by close(), so every wait here ends. */
  readonly #closing = new AbortController();
  readonly #lanes = new Map<string, Lane>();
  /** Models whose daily quota is spent, and until when. */
  readonly #dailyPause = new Map<string, number>();
  /** Settles when Redis is connected or could not be within the timeout (lanes then limit locally). */
  readonly #ready: Promise<void>;
  #closed = false;
  /** A refusal (credentials, permissions) was logged since Redis was last ready: the client retries, the log says it once. */
  #refusalLogged = false;

  constructor(options: QuotaLimiterOptions, logger: Logger) {
    this.#options = options;
    this.#logger = logger;
    this.#clock = options.clock ?? backgroundClock;
    this.#redis = options.redisUrl ? new Redis(options.redisUrl, LIMITER_REDIS_OPTIONS) : undefined;
    this.#redis?.on("error", (error) => this.#redisError(error));
    this.#redis?.on("ready", () => (this.#refusalLogged = false));
    this.#ready = this.#redis ? connected(this.#redis, REDIS_READY_TIMEOUT_MS, this.#clock) : Promise.resolve();
    this.#slots = new CallSlots(options, this.#redis, logger);
    void this.#tickUntilClosed();
  }

  async schedule<T>(call: ModelCall, task: () => Promise<T>): Promise<T> {
    const paused = this.pausedUntil(call.model);
    if (paused !== undefined) {
      throw new ModelCallError("MODEL_QUOTA_EXHAUSTED", call.model, `${call.model}: the daily token quota is spent until ${new Date(paused).toISOString()}`, { resetsAt: paused });
    }
    return this.#lane(call.model).schedule(call, task);
  }

  report(call: ModelCall, feedback: CallFeedback): void {
    if (feedback.outcome === "quota-exhausted") {
      this.#pause(call.model, feedback.resetsAt);
      this.#logger.warn({ model: call.model, until: new Date(feedback.resetsAt).toISOString() }, "daily token quota spent: model paused until it resets");
    }
    this.#lanes.get(call.model)?.report(call, feedback);
  }

  pausedUntil(model: string): number | undefined {
    const until = this.#dailyPause.get(model);
    return until !== undefined && until > this.#clock.now() ? until : undefined;
  }

  /**
   * Back-pressure: a receive waits only while no model the work may use can start a call, that is
   * while each is paused for its daily quota or has a call the window has refused (the window is
   * full). Receives already let through are not counted: a batch answered from the cache makes no
   * call, and one that will call joins the window's queue like any other call.
   */
  whenCanStart(models: readonly string[], callerSignal?: AbortSignal): Promise<void> {
    const signal = callerSignal ? AbortSignal.any([callerSignal, this.#closing.signal]) : this.#closing.signal;
    return waitUntilCanStart(this, this.#clock, models, signal);
  }

  /** True once close() has begun. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Room left in `call.model`'s window for `call` (after its reservation and the calls waiting
   * here), at the adaptive rate; Infinity where there is no limit. Reads the fleet's window with
   * Redis, this process's otherwise.
   */
  async headroom(call: ModelCall): Promise<Headroom> {
    if (this.#closed) throw new ShuttingDownError();
    await this.#ready;
    return this.#lane(call.model).headroom(call);
  }

  /** Whether one of `models` (or, with none given, any model) can start a call now: see whenCanStart. */
  canStart(models: readonly string[]): boolean {
    return models.length === 0 || models.some((m) => this.pausedUntil(m) === undefined && !this.#lanes.get(m)?.windowFull);
  }

  queued(): number {
    let n = 0;
    for (const lane of this.#lanes.values()) n += lane.waiting;
    return n;
  }

  rateFactors(): Record<string, number> {
    return Object.fromEntries([...this.#lanes].map(([model, lane]) => [model, lane.factor]));
  }

  /** Each model's tokens counted in the rolling day and its tpd, for lanes with a tpd (as of their last count). */
  dayBudgets(): { model: string; tokens: number; tpd: number }[] {
    return [...this.#lanes].flatMap(([model, lane]) => {
      const day = lane.day;
      return day ? [{ model, ...day }] : [];
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort(new ShuttingDownError());
    for (const lane of this.#lanes.values()) lane.close();
    try {
      await this.#slots.close();
    } finally {
      this.#redis?.disconnect();
    }
  }

  /**
   * A connection error. Redis refusing the credentials is a configuration error, not an outage:
   * every worker then limits alone on its share of the quota, so it is logged as an error, once
   * (ioredis keeps reconnecting, and each attempt is refused the same way); other errors are an
   * outage the lanes already report when they fall back.
   */
  #redisError(error: Error): void {
    if (!isCredentialsRefusal(error) && !isPermissionRefusal(error)) {
      this.#logger.debug({ err: error }, "limiter redis error");
      return;
    }
    if (this.#refusalLogged) return;
    this.#refusalLogged = true;
    const what = isCredentialsRefusal(error) ? "the credentials (LABELQ_REDIS_AUTH_TOKEN, LABELQ_REDIS_USERNAME)" : "a command to the ACL user";
    this.#logger.error({ err: error, localShare: this.#options.localShare }, `limiter: Redis refused ${what}: limiting locally on this worker's share of the quota`);
  }

  /** Tick every lane once a second until close(). */
  async #tickUntilClosed(): Promise<void> {
    const signal = this.#closing.signal;
    while (!signal.aborted) {
      try {
        await this.#clock.sleep(TICK_MS, signal);
      } catch {
        return;
      }
      for (const lane of this.#lanes.values()) void lane.tick();
    }
  }

  /** Pause `model` until `until` (a later pause wins). */
  #pause(model: string, until: number): void {
    this.#dailyPause.set(model, Math.max(until, this.#dailyPause.get(model) ?? 0));
  }

  /**
   * The lane's day budget cannot take a call: pause the model here until it can (the pooled
   * limiter then routes to other pools), and say so once per pause.
   */
  #daySpent(model: string, until: number, tokens: number, tpd: number): void {
    const wasPaused = this.pausedUntil(model) !== undefined;
    this.#pause(model, until);
    if (!wasPaused) {
      this.#logger.warn({ model, tokensToday: tokens, tpd, until: new Date(until).toISOString() }, "day token budget (tpd) spent: no calls here until the rolling day has room");
    }
  }

  #lane(model: string): Lane {
    let lane = this.#lanes.get(model);
    if (!lane) {
      if (this.#closed) throw new ShuttingDownError();
      lane = new Lane(model, {
        options: this.#options,
        redis: this.#redis,
        slots: this.#slots,
        ready: this.#ready,
        logger: this.#logger,
        clock: this.#clock,
        daySpent: (until, tokens, tpd) => this.#daySpent(model, until, tokens, tpd),
      });
      this.#lanes.set(model, lane);
    }
    return lane;
  }
}

/** What every lane of a limiter shares. */
interface LaneParts {
  options: QuotaLimiterOptions;
  redis: Redis | undefined;
  slots: CallSlots;
  /** Settles when Redis is connected or given up on. */
  ready: Promise<void>;
  logger: Logger;
  clock: Clock;
  /** The lane's day budget (tpd) cannot take a call until `until`; `tokens` counted in the day. */
  daySpent: (until: number, tokens: number, tpd: number) => void;
}

interface Waiter {
  call: ModelCall;
  weight: number;
  start: () => void;
  fail: (error: Error) => void;
}

/** What the lane keeps of a started call until it is reported. */
interface Admitted {
  id: string;
  weight: number;
  /** The window the reservation was taken from: the shared one, or a local one during an outage. */
  store: WindowStore;
  /** Where the call's tokens are counted in the day, when the lane has a tpd. */
  day?: { store: DayStore; bucket: number };
}

/** One model's window, waiting calls and adaptive rate; its calls in flight and spacing are CallSlots'. */
class Lane {
  readonly #model: string;
  readonly #options: QuotaLimiterOptions;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #aimd: AimdSettings;
  readonly #redis: Redis | undefined;
  readonly #shared: WindowStore | undefined;
  readonly #sharedAimd: AimdStore | undefined;
  readonly #local: WindowStore;
  readonly #sharedDay: DayStore | undefined;
  readonly #localDay: DayStore;
  readonly #daySpent: LaneParts["daySpent"];
  /** The day's tokens as last counted, and the tpd they count against (undefined: no tpd). */
  #day: { tokens: number; tpd: number } | undefined;
  #dayReadAt = 0;
  readonly #localAimd = new LocalAimdStore();
  readonly #waiters: Waiter[] = [];
  readonly #admitted = new WeakMap<ModelCall, Admitted>();
  readonly #slots: CallSlots;
  readonly #ready: Promise<void>;
  #state: AimdState = { factor: 1, lastDecreaseAt: 0, lastIncreaseAt: 0 };
  /** Calls scheduled here that have no call slot yet. */
  #waitingForSlot = 0;
  #closed = false;
  #pumping = false;
  /** Aborts the pending re-try of the head waiter (a newer one replaces it; close() ends it). */
  #retry: AbortController | undefined;
  #degradedSince: number | undefined;
  /** The window refused the call at the head of the queue, which still waits. */
  #refused = false;
  /** Learned ratio of the input tokens Bedrock reports to the estimate a reservation was made with. */
  #inputRatio = 1;

  constructor(model: string, parts: LaneParts) {
    const { options, redis } = parts;
    this.#ready = parts.ready;
    this.#slots = parts.slots;
    this.#clock = parts.clock;
    this.#model = model;
    this.#options = options;
    this.#logger = parts.logger.child({ limiter: model });
    this.#aimd = options.aimd ?? QUOTA_AIMD;
    this.#redis = redis;
    const timing = options.timing ?? BEDROCK_WINDOW;
    this.#shared = redis ? new RedisWindowStore(redis, `${options.id}:${model}:window`, timing) : undefined;
    this.#sharedAimd = redis ? new RedisAimdStore(redis, `${options.id}:${model}:aimd`) : undefined;
    this.#local = new LocalWindowStore(timing);
    const dayTiming = options.dayTiming ?? BEDROCK_DAY;
    this.#sharedDay = redis ? new RedisDayStore(redis, `${options.id}:${model}:day`, dayTiming) : undefined;
    this.#localDay = new LocalDayStore(dayTiming);
    this.#daySpent = parts.daySpent;
  }

  /** The day's tokens and tpd as last counted, for lanes with a tpd. */
  get day(): { tokens: number; tpd: number } | undefined {
    return this.#day;
  }

  get factor(): number {
    return this.#state.factor;
  }

  get waiting(): number {
    return this.#waiters.length + this.#waitingForSlot;
  }

  /** A call waits because the window has no room for it: another would only queue behind it. */
  get windowFull(): boolean {
    return this.#refused && this.#waiters.length > 0;
  }

  /** See QuotaLimiter.headroom. */
  async headroom(call: ModelCall): Promise<Headroom> {
    const { store, quota, day } = this.#target();
    const factor = Math.max(this.#state.factor, this.#aimd.minFactor);
    let used;
    try {
      used = await store.usage(this.#clock.now());
    } catch (error) {
      this.#degrade(error);
      used = await this.#local.usage(this.#clock.now());
    }
    const queuedTokens = this.#waiters.reduce((n, w) => n + w.weight, 0);
    const queuedCalls = this.#waiters.length + this.#waitingForSlot;
    const tpm = Math.floor(quota.tpm * factor);
    const rpm = Math.floor(quota.rpm * factor);
    const room = {
      tokens: tpm === 0 ? Infinity : tpm - used.tokens - queuedTokens - this.#weightOf(call),
      requests: rpm === 0 ? Infinity : rpm - used.requests - queuedCalls - 1,
    };
    if (!day) return room;
    const today = await this.#readDay(day);
    return { ...room, dayTokens: day.tpd - today - queuedTokens - this.#weightOf(call) };
  }

  /** The day's tokens now (the last count when the store cannot be read), remembered for the gauges. */
  async #readDay(day: { store: DayStore; tpd: number }): Promise<number> {
    const now = this.#clock.now();
    try {
      const tokens = await day.store.used(now);
      this.#day = { tokens, tpd: day.tpd };
      this.#dayReadAt = now;
      return tokens;
    } catch (error) {
      this.#degrade(error);
      return this.#day?.tokens ?? 0;
    }
  }

  /** Take a call slot (Bottleneck), then wait inside it until the window admits the call, then run it. */
  async schedule<T>(call: ModelCall, task: () => Promise<T>): Promise<T> {
    this.#waitingForSlot += 1;
    let inSlot = false;
    try {
      // A worker started before Redis answers would otherwise take local slots from its first call.
      await this.#ready;
      const shared = this.#shared !== undefined && this.#degradedSince === undefined;
      return await this.#slots.run(
        this.#model,
        shared,
        () => {
          inSlot = true;
          this.#waitingForSlot -= 1;
          return this.#admitThenRun(call, task);
        },
        (error) => this.#degrade(error),
      );
    } finally {
      if (!inSlot) this.#waitingForSlot -= 1;
    }
  }

  /** Lower the rate on a throttle; settle an answered call's reservation to its real cost, release any other's. */
  report(call: ModelCall, feedback: CallFeedback): void {
    const admitted = this.#admitted.get(call);
    this.#admitted.delete(call);
    if (feedback.outcome === "throttled") {
      const now = this.#clock.now();
      void this.#applyAimd((store) => store.throttled(now, this.#aimd));
      this.#logger.debug("throttled: lowering the rate");
    }
    if (!admitted) return;
    // Refused (throttled, quota spent) or failed calls: Bedrock counted nothing.
    const cost = feedback.outcome === "ok" ? this.#settledCost(call, feedback.usage) : undefined;
    const day = admitted.day;
    if (day) {
      const counted = cost !== undefined ? day.store.settle(day.bucket, admitted.weight, cost) : day.store.release(day.bucket, admitted.weight);
      counted.catch(() => undefined);
    }
    const done = cost !== undefined ? admitted.store.settle(admitted.id, admitted.weight, cost) : admitted.store.release(admitted.id, admitted.weight);
    done.then(
      () => void this.#pump(),
      () => undefined,
    );
  }

  /** Once a second: raise the rate after quiet, check on Redis after an outage, and re-try the head waiter. */
  async tick(): Promise<void> {
    await this.#applyAimd((store) => store.quietTick(this.#clock.now(), this.#aimd));
    // Keep the day's gauge true while no call counts it (old buckets leave the day).
    const { day } = this.#target();
    if (day && this.#clock.now() - this.#dayReadAt >= DAY_READ_EVERY_MS) await this.#readDay(day);
    if (this.#redis && this.#degradedSince !== undefined && this.#clock.now() - this.#degradedSince > REDIS_RECHECK_MS) {
      try {
        await this.#redis.ping();
        this.#degradedSince = undefined;
        this.#logger.info("limiter back on Redis: fleet-wide limits restored");
      } catch {
        this.#degradedSince = this.#clock.now();
      }
    }
    void this.#pump();
  }

  close(): void {
    this.#closed = true;
    this.#retry?.abort();
    for (const w of this.#waiters.splice(0)) w.fail(new ShuttingDownError());
  }

  /** What an answered call cost the quota (its reservation is replaced by it), learning from its input count. */
  #settledCost(call: ModelCall, usage: ModelUsage): number {
    if (call.reserve && call.reserve.inputTokens > 0) {
      // Learn how far the estimate is from Bedrock's count, so later reservations are not short.
      const ratio = usage.inputTokens / call.reserve.inputTokens;
      this.#inputRatio = Math.min(2, Math.max(1, 0.8 * this.#inputRatio + 0.2 * ratio));
    }
    return call.reserve ? settledTokens(call.reserve, usage) : usage.inputTokens + usage.outputTokens;
  }

  /** Wait in FIFO order until the window admits the call, then run it. */
  #admitThenRun<T>(call: ModelCall, task: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new ShuttingDownError());
    return new Promise<T>((resolve, reject) => {
      this.#waiters.push({ call, weight: this.#weightOf(call), start: () => void task().then(resolve, reject), fail: reject });
      void this.#pump();
    });
  }

  #weightOf(call: ModelCall): number {
    if (!call.reserve) return call.tokens;
    return reservedTokens({ ...call.reserve, inputTokens: Math.ceil(call.reserve.inputTokens * this.#inputRatio) });
  }

  /** Start waiting calls (each already holds a call slot) in order while the window admits them. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      // A worker started before Redis answers would otherwise limit locally from its first call.
      await this.#ready;
      while (this.#waiters.length > 0) {
        const head = this.#waiters[0]!;
        const id = randomUUID();
        const { store, quota, day } = this.#target();
        const factor = Math.max(this.#state.factor, this.#aimd.minFactor);
        const limits = { rpm: Math.floor(quota.rpm * factor), tpm: Math.floor(quota.tpm * factor) };
        let verdict;
        try {
          verdict = await store.tryAdmit(id, head.weight, limits, this.#clock.now());
        } catch (error) {
          this.#degrade(error);
          continue;
        }
        if (!verdict.admitted) {
          this.#refused = true;
          return this.#retryIn(Math.min(verdict.retryInMs, MAX_POLL_MS));
        }
        // The minute admitted the call; the day (when the lane has a tpd) must take it too.
        let counted: Admitted["day"];
        if (day) {
          let inDay;
          try {
            inDay = await day.store.tryReserve(head.weight, day.tpd, this.#clock.now());
          } catch (error) {
            this.#degrade(error);
            await store.release(id, head.weight).catch(() => undefined);
            continue;
          }
          this.#day = { tokens: inDay.used + (inDay.admitted ? head.weight : 0), tpd: day.tpd };
          if (!inDay.admitted) {
            await store.release(id, head.weight).catch(() => undefined);
            this.#refused = false;
            this.#refuseForTheDay(inDay.fitsAt, inDay.used, day.tpd);
            return;
          }
          counted = { store: day.store, bucket: inDay.bucket };
        }
        this.#refused = false;
        this.#waiters.shift();
        this.#admitted.set(head.call, { id, weight: head.weight, store, ...(counted ? { day: counted } : {}) });
        head.start();
      }
    } finally {
      this.#pumping = false;
    }
  }

  /**
   * The day cannot take the head call: the limiter pauses the model here until `fitsAt`, and every
   * call waiting here fails with MODEL_QUOTA_EXHAUSTED before it started (the pooled limiter routes
   * it to another pool; with none left, the model's daily pause applies).
   */
  #refuseForTheDay(fitsAt: number, tokens: number, tpd: number): void {
    this.#daySpent(fitsAt, tokens, tpd);
    const error = new ModelCallError(
      "MODEL_QUOTA_EXHAUSTED",
      this.#model,
      `${this.#model}: the day token budget (tpd ${tpd}, ${tokens} counted in the last 24 h) cannot take the call until ${new Date(fitsAt).toISOString()}`,
      { resetsAt: fitsAt },
    );
    for (const w of this.#waiters.splice(0)) w.fail(error);
  }

  /** Pump again after `ms`, in place of any re-try already pending. */
  #retryIn(ms: number): void {
    this.#retry?.abort();
    const retry = new AbortController();
    this.#retry = retry;
    this.#clock.sleep(Math.max(5, ms), retry.signal).then(
      () => void this.#pump(),
      () => undefined,
    );
  }

  /**
   * The shared window and day with the whole quota, or during a Redis outage local ones with this
   * process's share. `day` only when the lane has a tpd.
   */
  #target(): { store: WindowStore; quota: ModelQuota; day?: { store: DayStore; tpd: number } } {
    // A window shorter than Bedrock's minute (an emulator's, in tests) holds that share of the per-minute quota.
    const perMinute = this.#options.quotaFor(this.#model);
    const scale = (this.#options.timing ?? BEDROCK_WINDOW).windowMs / 60_000;
    const scaled = (n: number) => (n === 0 ? 0 : Math.max(1, Math.floor(n * scale)));
    const quota = { rpm: scaled(perMinute.rpm), tpm: scaled(perMinute.tpm) };
    const tpd = perMinute.tpd ?? 0;
    if (this.#shared && this.#degradedSince === undefined) {
      return { store: this.#shared, quota, ...(tpd > 0 && this.#sharedDay ? { day: { store: this.#sharedDay, tpd } } : {}) };
    }
    const share = this.#shared ? this.#options.localShare : 1;
    return {
      store: this.#local,
      quota: { rpm: Math.floor(quota.rpm * share), tpm: Math.floor(quota.tpm * share) },
      ...(tpd > 0 ? { day: { store: this.#localDay, tpd: Math.max(1, Math.floor(tpd * share)) } } : {}),
    };
  }

  #degrade(cause: unknown): void {
    if (this.#degradedSince === undefined) {
      this.#logger.warn({ err: cause, localShare: this.#options.localShare }, "limiter lost Redis: limiting locally until it is back");
    }
    this.#degradedSince = this.#clock.now();
  }

  async #applyAimd(change: (store: AimdStore) => Promise<AimdState>): Promise<void> {
    const store = this.#sharedAimd && this.#degradedSince === undefined ? this.#sharedAimd : this.#localAimd;
    try {
      this.#state = await change(store);
    } catch {
      this.#state = await change(this.#localAimd);
    }
  }
}
