import Bottleneck from "bottleneck";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import { type AimdSettings, type AimdState, type AimdStore, DEFAULT_AIMD, LocalAimdStore, RedisAimdStore } from "./aimd.ts";
import { ModelCallError } from "../errors/errors.ts";
import { reservedTokens, settledTokens } from "./bedrock-quota.ts";
import type { CallFeedback, ModelCall, RateLimiter } from "./rate-limiter.ts";

/** A model's quota: the ceiling labelq stays under, not a target. 0 = no limit of that kind. */
export interface ModelQuota {
  rpm: number;
  tpm: number;
}

export interface LimiterOptions {
  /** Calls in flight per model, per process. */
  maxConcurrent: number;
  /** Minimum spacing between calls, per model, per process. */
  minTimeMs: number;
  /** With a Redis URL every process sharing `id` shares each model's limiter and adaptive rate. */
  redisUrl?: string;
  id: string;
  quotaFor: (model: string) => ModelQuota;
  /** During a Redis outage each process falls back to a local limiter with this share of the quota. */
  localShare: number;
  aimd?: AimdSettings;
}

/** Requests are weighed in hundredths so a reduced rate (factor < 1) can be applied as a heavier weight. */
const UNITS = 100;
/** Room in the token bucket for one large call beyond a refill step (tokens). */
const LARGE_CALL_TOKENS = 20_000;
/**
 * Refill step. Redis-backed reservoirs count elapsed intervals, so small steps are exact there;
 * the local datastore adds one step per heartbeat and loses the remainder, so it steps per second.
 */
const REFILL_MS = { shared: 250, local: 1_000 };

/**
 * RateLimiter on Bottleneck, one lane per model: a concurrency limiter, a requests-per-minute
 * reservoir and a tokens-per-minute reservoir, all refilled in small steps. The adaptive factor
 * (AIMD: lower on throttling, raise slowly while quiet) is applied as heavier weights instead
 * of updateSettings, which can stop a reservoir from refilling (bottleneck#185). With Redis the
 * reservoirs and the factor are shared by the fleet; if Redis fails, lanes fall back to local
 * limiters with `localShare` of the quota and are rebuilt once Redis answers again.
 */
export class BottleneckLimiter implements RateLimiter {
  readonly #options: LimiterOptions;
  readonly #logger: Logger;
  readonly #aimd: AimdSettings;
  readonly #lanes = new Map<string, Lane>();
  readonly #redis: Redis | undefined;
  /** Models whose daily quota is spent, and until when (per process: each learns it from its own call). */
  readonly #dailyPause = new Map<string, number>();
  #closed = false;

  constructor(options: LimiterOptions, logger: Logger) {
    this.#options = options;
    this.#logger = logger;
    this.#aimd = options.aimd ?? DEFAULT_AIMD;
    this.#redis = options.redisUrl ? new Redis({ ...redisOptionsFromUrl(options.redisUrl), ...redisOptions }) : undefined;
    this.#redis?.on("error", (error) => logger.debug({ err: error }, "limiter redis error"));
  }

  async schedule<T>(call: ModelCall, task: () => Promise<T>): Promise<T> {
    const paused = this.pausedUntil(call.model);
    if (paused !== undefined) {
      throw new ModelCallError("MODEL_QUOTA_EXHAUSTED", call.model, `${call.model}: the daily token quota is spent until ${new Date(paused).toISOString()}`, { resetsAt: paused });
    }
    const lane = this.#lane(call.model);
    return lane.schedule(weightOf(call), task);
  }

  report(call: ModelCall, feedback: CallFeedback): void {
    if ("outcome" in feedback && feedback.outcome === "quota-exhausted") {
      this.#dailyPause.set(call.model, Math.max(feedback.resetsAt, this.#dailyPause.get(call.model) ?? 0));
      this.#logger.warn({ model: call.model, until: new Date(feedback.resetsAt).toISOString() }, "daily token quota spent: model paused until it resets");
    }
    this.#lane(call.model).report(weightOf(call), normalise(call, feedback));
  }

  pausedUntil(model: string): number | undefined {
    const until = this.#dailyPause.get(model);
    if (until === undefined || until <= Date.now()) return undefined;
    return until;
  }

  async whenCanStart(models: readonly string[], signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const paused = models.map((m) => this.pausedUntil(m));
      if (models.length === 0 || paused.some((p) => p === undefined)) return;
      const wait = Math.min(...(paused as number[])) - Date.now();
      await sleep(Math.max(10, Math.min(wait, 60_000)), signal);
    }
  }

  queued(): number {
    let n = 0;
    for (const lane of this.#lanes.values()) n += lane.queued();
    return n;
  }

  rateFactors(): Record<string, number> {
    return Object.fromEntries([...this.#lanes].map(([model, lane]) => [model, lane.factor]));
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const lane of this.#lanes.values()) await lane.close();
    this.#redis?.disconnect();
  }

  #lane(model: string): Lane {
    let lane = this.#lanes.get(model);
    if (!lane) {
      if (this.#closed) throw new Error("the rate limiter is closed");
      lane = new Lane(model, this.#options, this.#aimd, this.#redis, this.#logger);

      this.#lanes.set(model, lane);
    }
    return lane;
  }
}

/** What the lane weighs a call at: Bedrock's reservation when the caller gave it, else the older estimate. */
function weightOf(call: ModelCall): number {
  return call.reserve ? reservedTokens(call.reserve) : call.tokens;
}

type LaneFeedback = { throttled: false; actualTokens: number } | { throttled: true; retryAfterSeconds?: number };

/** Feedback in the lane's terms: a settled token count, or a throttle. */
function normalise(call: ModelCall, feedback: CallFeedback): LaneFeedback {
  if (!("outcome" in feedback)) return feedback;
  switch (feedback.outcome) {
    case "ok":
      return { throttled: false, actualTokens: call.reserve ? settledTokens(call.reserve, feedback.usage) : feedback.usage.inputTokens + feedback.usage.outputTokens };
    case "throttled":
      return { throttled: true };
    // Refused calls were never counted by Bedrock: give the whole reservation back.
    case "quota-exhausted":
    case "failed":
      return { throttled: false, actualTokens: 0 };
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", aborted);
      resolve();
    }
    function aborted() {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    }
    signal?.addEventListener("abort", aborted, { once: true });
  });
}

/** Connection options from a redis:// or rediss:// URL (Bottleneck builds its own clients from options, not URLs). */
export function redisOptionsFromUrl(url: string): RedisOptions {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    ...(u.protocol === "rediss:" ? { tls: {} } : {}),
  };
}

const redisOptions: RedisOptions = {
  // Fail fast while Redis is away, so lanes fall back to local limits instead of queueing blind.
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2_000,
  lazyConnect: false,
};

interface Limiters {
  concurrency: Bottleneck;
  requests?: Bottleneck;
  tokens?: Bottleneck;
  tokenBucket: number;
  shared: boolean;
  /** Shared lanes: settles when their Redis connections are ready (or cannot be). */
  ready?: Promise<void>;
}

/** How long a shared lane waits for Redis before limiting locally instead. */
const REDIS_READY_TIMEOUT_MS = 2_000;

/** One model's limiters and adaptive state. */
class Lane {
  readonly #model: string;
  readonly #options: LimiterOptions;
  readonly #aimd: AimdSettings;
  readonly #redis: Redis | undefined;
  readonly #logger: Logger;
  readonly #store: AimdStore;
  readonly #localStore = new LocalAimdStore();
  #state: AimdState = { factor: 1, lastDecreaseAt: 0, lastIncreaseAt: 0, pausedUntil: 0 };
  #limiters: Limiters;
  #tick: NodeJS.Timeout;
  #degradedSince: number | undefined;

  constructor(model: string, options: LimiterOptions, aimd: AimdSettings, redis: Redis | undefined, logger: Logger) {
    this.#model = model;
    this.#options = options;
    this.#aimd = aimd;
    this.#redis = redis;
    this.#logger = logger.child({ limiter: model });
    this.#store = redis ? new RedisAimdStore(redis, `${options.id}:${model}:aimd`) : this.#localStore;
    this.#limiters = this.#build(redis !== undefined);
    this.#tick = setInterval(() => void this.#onTick(), 1_000);
    this.#tick.unref();
  }

  get factor(): number {
    return this.#state.factor;
  }

  queued(): number {
    const l = this.#limiters;
    return l.concurrency.queued() + (l.requests?.queued() ?? 0) + (l.tokens?.queued() ?? 0);
  }

  async schedule<T>(tokens: number, task: () => Promise<T>): Promise<T> {
    const wait = this.#state.pausedUntil - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    try {
      return await this.#run(this.#limiters, tokens, task);
    } catch (error) {
      if (!(error instanceof LimiterStoreError)) throw error;
      this.#degrade(error.cause);
      return this.#run(this.#limiters, tokens, task);
    }
  }

  report(tokens: number, feedback: LaneFeedback): void {
    const now = Date.now();
    if (feedback.throttled) {
      const pauseUntil = feedback.retryAfterSeconds ? now + feedback.retryAfterSeconds * 1000 : 0;
      void this.#apply((store) => store.throttled(now, pauseUntil, this.#aimd));
      return;
    }
    // Correct the token reservoir by what the call really used (the schedule weighed an estimate).
    const bucket = this.#limiters.tokens;
    const delta = Math.round((tokens - feedback.actualTokens) / Math.max(this.#state.factor, this.#aimd.minFactor));
    if (bucket && delta !== 0) bucket.incrementReservoir(delta).catch(() => undefined);
  }

  async close(): Promise<void> {
    clearInterval(this.#tick);
    await disconnect(this.#limiters);
  }

  async #run<T>(l: Limiters, tokens: number, task: () => Promise<T>): Promise<T> {
    // Bottleneck waits for its Redis connection without a deadline: bound it, or a worker
    // started while Redis is down would never run a call.
    if (l.ready) await l.ready;
    const factor = Math.max(this.#state.factor, this.#aimd.minFactor);
    const withSlot = () => guard(l, () => l.concurrency.schedule(task));
    const withRequest = l.requests ? () => guard(l, () => l.requests!.schedule({ weight: Math.ceil(UNITS / factor) }, withSlot)) : withSlot;
    if (!l.tokens) return withRequest();
    const weight = Math.min(l.tokenBucket, Math.ceil(tokens / factor));
    return guard(l, () => l.tokens!.schedule({ weight }, withRequest));
  }

  #build(shared: boolean): Limiters {
    const quota = this.#options.quotaFor(this.#model);
    const share = shared ? 1 : this.#redis ? this.#options.localShare : 1;
    const base: Bottleneck.ConstructorOptions = shared
      ? {
          datastore: "ioredis",
          Redis,
          clientOptions: { ...redisOptionsFromUrl(this.#options.redisUrl!), ...redisOptions },
          clearDatastore: false,
          // Clustered reservoirs refill on the heartbeat; the default 5 s is far too coarse.
          heartbeatInterval: REFILL_MS.shared,
        }
      : {};
    const id = (kind: string) => `${this.#options.id}:${this.#model}:${kind}`;
    const refillMs = shared ? REFILL_MS.shared : REFILL_MS.local;
    /**
     * A token bucket refilled every step. Its depth is one step's refill plus room for one call:
     * shallower, and refills spill over the top and the rate is lost; deeper, and bursts
     * overshoot. The refill rate is the quota minus the depth, so that depth + rate x 60 s
     * never exceeds the quota in any rolling minute, which is how Bedrock counts.
     */
    const bucket = (perMinute: number, oneCall: number) => {
      const depth = Math.ceil((perMinute * refillMs) / 60_000) + oneCall;
      // For tiny quotas the depth would eat the whole rate: keep at least half of it.
      const amount = Math.max(1, Math.floor((Math.max(perMinute - depth, perMinute / 2) * refillMs) / 60_000));
      return { depth, options: { reservoir: depth, reservoirIncreaseInterval: refillMs, reservoirIncreaseAmount: amount, reservoirIncreaseMaximum: depth } };
    };
    const requests = bucket(quota.rpm * share * UNITS, UNITS);
    const tokensPerMin = quota.tpm * share;
    const tokens = bucket(tokensPerMin, Math.floor(Math.min(tokensPerMin / 10, LARGE_CALL_TOKENS)));
    const tokenBucket = tokens.depth;
    const limiters: Limiters = {
      // Concurrency is per process: a crashed process must not hold fleet slots.
      concurrency: new Bottleneck({ maxConcurrent: this.#options.maxConcurrent, minTime: this.#options.minTimeMs, id: id("slots") }),
      requests:
        quota.rpm > 0
          ? new Bottleneck({ ...base, id: id("requests"), ...requests.options })
          : undefined,
      tokens: quota.tpm > 0 ? new Bottleneck({ ...base, id: id("tokens"), ...tokens.options }) : undefined,
      tokenBucket,
      shared,
    };
    for (const b of [limiters.concurrency, limiters.requests, limiters.tokens]) b?.on("error", (e: unknown) => this.#logger.warn({ err: e }, "limiter error"));
    if (shared) {
      const connected = Promise.all([limiters.requests?.ready(), limiters.tokens?.ready()]).then(() => undefined);
      const deadline = new Promise<never>((_, reject) => {
        setTimeout(() => reject(new LimiterStoreError(`Redis not ready within ${REDIS_READY_TIMEOUT_MS} ms`)), REDIS_READY_TIMEOUT_MS).unref();
      });
      limiters.ready = Promise.race([connected, deadline]);
      limiters.ready.catch(() => undefined);
    }
    return limiters;
  }

  /** Redis failed under a shared lane: carry on with local limits, and try to rebuild later. */
  #degrade(cause: unknown): void {
    if (!this.#limiters.shared) return;
    this.#logger.warn({ err: cause, localShare: this.#options.localShare }, "limiter lost Redis: limiting locally until it is back");
    const old = this.#limiters;
    this.#limiters = this.#build(false);
    this.#degradedSince = Date.now();
    void disconnect(old);
  }

  async #onTick(): Promise<void> {
    await this.#apply((store) => store.quietTick(Date.now(), this.#aimd));
    // After an outage, or a Redis restart that lost the limiter's keys (ERR SETTINGS_KEY_NOT_FOUND),
    // build fresh shared limiters once Redis answers.
    if (this.#redis && this.#degradedSince !== undefined && Date.now() - this.#degradedSince > 5_000) {
      try {
        await this.#redis.ping();
        const old = this.#limiters;
        this.#limiters = this.#build(true);
        this.#degradedSince = undefined;
        this.#logger.info("limiter back on Redis: fleet-wide limits restored");
        void disconnect(old);
      } catch {
        this.#degradedSince = Date.now();
      }
    }
  }

  async #apply(change: (store: AimdStore) => Promise<AimdState>): Promise<void> {
    try {
      this.#state = await change(this.#degradedSince === undefined ? this.#store : this.#localStore);
    } catch {
      this.#state = await change(this.#localStore);
    }
  }
}

/** A failure of the limiter's shared store rather than of the task. */
class LimiterStoreError extends Error {}

/** Run a Bottleneck call; tell Redis trouble (connection, lost keys, NOSCRIPT) apart from the task's own errors. */
async function guard<T>(l: Limiters, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (l.shared && isStoreFailure(error)) throw new LimiterStoreError("rate limiter store failed", { cause: error });
    throw error;
  }
}

function isStoreFailure(error: unknown): boolean {
  if (error instanceof LimiterStoreError) return true;
  const message = error instanceof Error ? error.message : String(error);
  return /SETTINGS_KEY_NOT_FOUND|NOSCRIPT|Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|connect ETIMEDOUT|MaxRetriesPerRequest|enableOfflineQueue/i.test(message);
}

async function disconnect(l: Limiters): Promise<void> {
  for (const b of [l.concurrency, l.requests, l.tokens]) {
    try {
      await b?.disconnect(false);
    } catch {
      // Already gone with Redis.
    }
  }
}
