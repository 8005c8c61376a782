import type { Logger } from "pino";
import { ModelCallError, ShuttingDownError } from "../../core/errors/errors.ts";
import { dayCanTake, type Headroom, mostHeadroom } from "../../core/quota/pools.ts";
import type { CallFeedback, ModelCall, RateLimiter } from "../../core/quota/rate-limiter.ts";
import { type PoolRoute, runWithRoute } from "../../core/quota/pool-route.ts";
import type { ServiceTier } from "../../core/models/service-tiers.ts";
import { backgroundClock, type Clock } from "../../core/util/clock.ts";
import { waitUntilCanStart } from "./start-gate.ts";

/** A pool's own limiter: a RateLimiter (one lane per model, its window fleet-wide) that can say how much room it has. */
export interface PoolLimiter extends RateLimiter {
  headroom(call: ModelCall): Promise<Headroom>;
  canStart(models: readonly string[]): boolean;
  /** Each model's tokens counted in the rolling day against its tpd, for lanes with one. */
  dayBudgets?(): { model: string; tokens: number; tpd: number }[];
}

/** One quota pool: a Region's quota (or an account's in it), with the limiter that keeps labelq under it. */
export interface Pool {
  id: string;
  region: string;
  /** The only model alias the pool serves; undefined: every model. */
  model?: string;
  /** The id (or inference profile) to call `model` by in this pool, in place of the catalogue's. */
  modelId?: string;
  /** The pool's default service tier (LABELQ_POOLS tier): sent on calls that name none, to models that offer it in the pool's Region (core tierFor). */
  tier?: ServiceTier;
  limiter: PoolLimiter;
}

export interface PooledLimiterOptions {
  pools: readonly Pool[];
  /** Whether `pool` may carry `model`'s calls (LABELQ_RESIDENCY, the pool's own model). */
  allowed: (pool: Pool, model: string) => boolean;
  /** How long a pool that failed (endpoint down, access denied) stays out. */
  cooldownMs?: number;
  clock?: Clock;
}

/** A pool that failed stays out this long before calls try it again. */
export const POOL_COOLDOWN_MS = 30_000;

/** Calls routed to a pool but not yet started there, so calls routed together do not all pick the same pool. */
interface Pending {
  tokens: number;
  calls: number;
}

/**
 * RateLimiter over several quota pools: each call goes to the pool, among those its model may
 * use, with the most headroom for its reservation (QuotaLimiter.headroom: the window's room at
 * the adaptive rate, less the calls waiting there). Every pool keeps its own lanes, so a throttle
 * slows that pool only and a spent daily quota pauses that pool only. A pool that fails as a
 * whole (the provider calls PoolRoute.takeOut) gets no calls for a cool-down; the others carry
 * on. The task runs with its route (runWithRoute), where the provider reads which
 * Region's client to call.
 */
export class PooledLimiter implements RateLimiter {
  readonly #pools: readonly Pool[];
  readonly #allowed: (pool: Pool, model: string) => boolean;
  readonly #cooldownMs: number;
  readonly #clock: Clock;
  readonly #logger: Logger;
  /** The pool each call was last routed to, for its report. */
  readonly #routedTo = new WeakMap<ModelCall, Pool>();
  readonly #pending = new Map<string, Pending>();
  /** Pools taken out, and until when. */
  readonly #outUntil = new Map<string, number>();
  readonly #closing = new AbortController();
  /** Rotates where ties start, so pools with equal room share the calls. */
  #turn = 0;
  #closed = false;

  constructor(options: PooledLimiterOptions, logger: Logger) {
    this.#pools = options.pools;
    this.#allowed = options.allowed;
    this.#cooldownMs = options.cooldownMs ?? POOL_COOLDOWN_MS;
    this.#clock = options.clock ?? backgroundClock;
    this.#logger = logger;
  }

  /** The pools `model` may use (before taking out and pauses). */
  poolsFor(model: string): Pool[] {
    return this.#pools.filter((p) => this.#allowed(p, model));
  }

  /**
   * Run the call in the pool with the most headroom. A pool that refuses it before it starts
   * because its day budget (tpd) is spent pauses itself; the call is then routed again among the
   * others, until none is left and the model's daily pause applies (MODEL_QUOTA_EXHAUSTED).
   */
  async schedule<T>(call: ModelCall, task: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let started = false;
      try {
        return await this.#scheduleIn(call, () => {
          started = true;
          return task();
        });
      } catch (error) {
        const refusedForTheDay = !started && error instanceof ModelCallError && error.code === "MODEL_QUOTA_EXHAUSTED";
        if (!refusedForTheDay || attempt >= this.#pools.length) throw error;
      }
    }
  }

  async #scheduleIn<T>(call: ModelCall, task: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new ShuttingDownError();
    const pool = await this.#choose(call);
    const key = `${pool.id}\u0000${call.model}`;
    const weight = call.reserve ? call.reserve.inputTokens + call.reserve.cacheTokens + call.reserve.maxTokens : call.tokens;
    const pending = this.#pending.get(key) ?? { tokens: 0, calls: 0 };
    pending.tokens += weight;
    pending.calls += 1;
    this.#pending.set(key, pending);
    let counted = true;
    const started = () => {
      if (!counted) return;
      counted = false;
      pending.tokens -= weight;
      pending.calls -= 1;
    };
    this.#routedTo.set(call, pool);
    const route: PoolRoute = {
      poolId: pool.id,
      region: pool.region,
      ...(pool.model === call.model && pool.modelId !== undefined ? { modelId: pool.modelId } : {}),
      ...(pool.tier !== undefined ? { tier: pool.tier } : {}),
      takeOut: (reason, cause) => this.#takeOut(pool, reason, cause),
    };
    try {
      return await pool.limiter.schedule(call, () => {
        started();
        return runWithRoute(route, task);
      });
    } finally {
      started();
    }
  }

  report(call: ModelCall, feedback: CallFeedback): void {
    this.#routedTo.get(call)?.limiter.report(call, feedback);
  }

  /** Until when every pool `model` may use is paused for its daily quota, or undefined while one is not. */
  pausedUntil(model: string): number | undefined {
    const pools = this.poolsFor(model);
    if (pools.length === 0) return undefined;
    let earliest = Infinity;
    for (const p of pools) {
      const until = p.limiter.pausedUntil(model);
      if (until === undefined) return undefined;
      earliest = Math.min(earliest, until);
    }
    return earliest;
  }

  /** Back-pressure as QuotaLimiter's, over pools: waits while no pool in service for any of `models` can start a call. */
  whenCanStart(models: readonly string[], callerSignal?: AbortSignal): Promise<void> {
    const signal = callerSignal ? AbortSignal.any([callerSignal, this.#closing.signal]) : this.#closing.signal;
    return waitUntilCanStart(this, this.#clock, models, signal);
  }

  /** True once close() has begun. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether one of `models` (or, with none given, any) has a pool in service that can start a call now. */
  canStart(models: readonly string[]): boolean {
    const now = this.#clock.now();
    return models.length === 0 || models.some((m) => this.poolsFor(m).some((p) => !this.#isOut(p, now) && p.limiter.canStart([m])));
  }

  queued(): number {
    return this.#pools.reduce((n, p) => n + p.limiter.queued(), 0);
  }

  /** Each model's rate factor, the mean over the pools that have called it. */
  rateFactors(): Record<string, number> {
    const sums = new Map<string, { sum: number; n: number }>();
    for (const p of this.#pools) {
      for (const [model, factor] of Object.entries(p.limiter.rateFactors())) {
        const s = sums.get(model) ?? { sum: 0, n: 0 };
        s.sum += factor;
        s.n += 1;
        sums.set(model, s);
      }
    }
    return Object.fromEntries([...sums].map(([model, s]) => [model, s.sum / s.n]));
  }

  /** Each pool and model's tokens in the rolling day against its tpd, for labelq_pool_tokens_today. */
  dayBudgets(): { pool: string; model: string; tokens: number; tpd: number }[] {
    return this.#pools.flatMap((p) => (p.limiter.dayBudgets?.() ?? []).map((d) => ({ pool: p.id, ...d })));
  }

  /** Whether each pool is in service (not taken out), by pool id, for labelq_pool_available. */
  availability(): Record<string, boolean> {
    const now = this.#clock.now();
    return Object.fromEntries(this.#pools.map((p) => [p.id, !this.#isOut(p, now)]));
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort(new ShuttingDownError());
    const results = await Promise.allSettled(this.#pools.map((p) => p.limiter.close()));
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** The pool for `call`: in service, not paused, with the most headroom. Throws as one limiter would when none can take it. */
  async #choose(call: ModelCall): Promise<Pool> {
    const model = call.model;
    const allowed = this.poolsFor(model);
    if (allowed.length === 0) {
      throw new ModelCallError("MODEL_REJECTED_REQUEST", model, `${model}: no quota pool of LABELQ_POOLS may carry it (LABELQ_RESIDENCY, or each pool's "model")`);
    }
    const now = this.#clock.now();
    const inService = allowed.filter((p) => !this.#isOut(p, now));
    if (inService.length === 0) {
      const back = Math.min(...allowed.map((p) => this.#outUntil.get(p.id) ?? now));
      throw new ModelCallError("MODEL_UNAVAILABLE", model, `${model}: every quota pool it may use is out of service until ${new Date(back).toISOString()}`);
    }
    const open = inService.filter((p) => p.limiter.pausedUntil(model) === undefined);
    if (open.length === 0) {
      const resetsAt = Math.min(...inService.map((p) => p.limiter.pausedUntil(model) ?? Infinity));
      throw new ModelCallError("MODEL_QUOTA_EXHAUSTED", model, `${model}: the daily token quota is spent in every pool until ${new Date(resetsAt).toISOString()}`, { resetsAt });
    }
    if (open.length === 1) return open[0]!;
    const rooms = await Promise.all(open.map(async (pool) => ({ pool, headroom: await pool.limiter.headroom(call) })));
    // Read after the awaits, so calls routed meanwhile are counted.
    const adjusted = rooms.map(({ pool, headroom }) => {
      const pending = this.#pending.get(`${pool.id}\u0000${model}`);
      if (!pending) return { pool, headroom };
      const day = headroom.dayTokens !== undefined ? { dayTokens: headroom.dayTokens - pending.tokens } : {};
      return { pool, headroom: { tokens: headroom.tokens - pending.tokens, requests: headroom.requests - pending.calls, ...day } };
    });
    // A pool whose day budget cannot take the call gets it only when none can: its lane then
    // refuses it, pauses until the day has room, and the call is routed again or fails for the day.
    const withDay = adjusted.filter((r) => dayCanTake(r.headroom));
    const candidates = withDay.length > 0 ? withDay : adjusted;
    this.#turn = (this.#turn + 1) % candidates.length;
    return mostHeadroom(candidates, this.#turn)!;
  }

  #isOut(pool: Pool, now: number): boolean {
    const until = this.#outUntil.get(pool.id);
    if (until === undefined) return false;
    if (until > now) return true;
    this.#outUntil.delete(pool.id);
    this.#logger.info({ pool: pool.id, region: pool.region }, "quota pool back in service");
    return false;
  }

  #takeOut(pool: Pool, reason: string, cause: unknown): void {
    const now = this.#clock.now();
    if (this.#isOut(pool, now)) return;
    const until = now + this.#cooldownMs;
    this.#outUntil.set(pool.id, until);
    this.#logger.warn({ pool: pool.id, region: pool.region, until: new Date(until).toISOString(), err: cause }, `quota pool taken out of service: ${reason}`);
  }
}
