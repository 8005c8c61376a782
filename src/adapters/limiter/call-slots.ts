import Bottleneck from "bottleneck";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { ShuttingDownError } from "../../core/errors/errors.ts";

export interface CallSlotsOptions {
  /** Calls in flight per model: fleet-wide with Redis (every process sharing `id`), else per process. */
  maxConcurrent: number;
  /** Minimum spacing between call starts per model: fleet-wide with Redis, else per process. */
  minTimeMs: number;
  id: string;
}

/**
 * A job that outlives this is freed by Bottleneck (its promise rejects while the call goes on),
 * so a slot whose release was lost while Redis was away does not stay taken for ever. Model
 * calls end well before (timeout x attempts); the wait for window admission happens inside the slot.
 */
const SLOT_EXPIRATION_MS = 15 * 60_000;

/**
 * Bottleneck 2.19.5 retries its own SETTINGS_KEY_NOT_FOUND only when the message is exactly that;
 * ioredis reports "ERR SETTINGS_KEY_NOT_FOUND" after a Redis restart that kept no data, so every
 * schedule() then fails until the limiter is recreated (FACTS.md, bottleneck 2.19.5).
 */
function isSettingsLost(error: unknown): boolean {
  return error instanceof Error && error.message.includes("SETTINGS_KEY_NOT_FOUND");
}

/**
 * Per model, the cap on calls in flight and the spacing between their starts, through Bottleneck:
 * clustered on labelq's ioredis client when Redis is up (fleet-wide), a local limiter otherwise.
 * Each call weighs 1 (Bottleneck counts weight against maxConcurrent); tokens and requests per
 * minute are the quota window's job, not Bottleneck's.
 */
export class CallSlots {
  readonly #options: CallSlotsOptions;
  readonly #logger: Logger;
  readonly #redis: Redis | undefined;
  readonly #local = new Map<string, Bottleneck>();
  readonly #clustered = new Map<string, Bottleneck>();
  #connection: Bottleneck.IORedisConnection | undefined;
  #closed = false;

  constructor(options: CallSlotsOptions, redis: Redis | undefined, logger: Logger) {
    this.#options = options;
    this.#redis = redis;
    this.#logger = logger;
  }

  /**
   * Run `task` in one of the model's slots. `shared` says whether to use the fleet-wide limiter
   * (the caller knows whether Redis is usable); when the shared limiter fails before the task
   * starts, `onSharedError` is told and the call takes a local slot instead.
   */
  async run<T>(model: string, shared: boolean, task: () => Promise<T>, onSharedError: (error: unknown) => void): Promise<T> {
    if (this.#closed) throw new ShuttingDownError();
    if (shared && this.#redis?.status === "ready") {
      try {
        return await this.#runOn(this.#clusteredFor(model), task);
      } catch (error) {
        if (!(error instanceof SlotError)) throw error;
        if (isSettingsLost(error.cause)) {
          this.#rebuild(model, error.limiter);
          try {
            return await this.#runOn(this.#clusteredFor(model), task);
          } catch (retryError) {
            if (!(retryError instanceof SlotError)) throw retryError;
            onSharedError(retryError.cause);
          }
        } else {
          onSharedError(error.cause);
        }
        if (this.#closed) throw new ShuttingDownError();
      }
    }
    return this.#runOn(this.#localFor(model), task).catch((error: unknown) => {
      throw error instanceof SlotError ? (this.#closed ? new ShuttingDownError() : error.cause) : error;
    });
  }

  /** Calls waiting for a slot, all models and limiters. */
  queued(): number {
    let n = 0;
    for (const limiter of [...this.#local.values(), ...this.#clustered.values()]) n += limiter.queued();
    return n;
  }

  /** Refuse new calls and drop waiting ones (they reject with ShuttingDownError); running calls finish. */
  async close(): Promise<void> {
    this.#closed = true;
    const limiters = [...this.#local.values(), ...this.#clustered.values()];
    this.#local.clear();
    this.#clustered.clear();
    // Each step runs even if another fails: a limiter whose Redis is gone still stops locally.
    await Promise.allSettled(limiters.map((l) => l.stop({ dropWaitingJobs: true })));
    await Promise.allSettled(limiters.map((l) => l.disconnect(false)));
    // Also closes Bottleneck's subscriber; the client it shares is closing with the limiter anyway.
    if (this.#connection) await Promise.resolve(this.#connection.disconnect(false)).catch(() => undefined);
  }

  /**
   * Schedule on a limiter and tell its failures apart: an error from the task is the task's;
   * one raised by the limiter before the task started is a SlotError. If the limiter fails after
   * the task started (a release lost with Redis, an expired slot), the task's own outcome wins.
   */
  async #runOn<T>(limiter: Bottleneck, task: () => Promise<T>): Promise<T> {
    let started: Promise<T> | undefined;
    try {
      return await limiter.schedule({ weight: 1, expiration: SLOT_EXPIRATION_MS }, () => {
        started = task();
        return started;
      });
    } catch (error) {
      if (started) return started;
      throw new SlotError(limiter, error);
    }
  }

  #localFor(model: string): Bottleneck {
    let limiter = this.#local.get(model);
    if (!limiter) {
      if (this.#closed) throw new ShuttingDownError();
      limiter = new Bottleneck({ maxConcurrent: this.#options.maxConcurrent, minTime: this.#options.minTimeMs });
      this.#local.set(model, limiter);
    }
    return limiter;
  }

  #clusteredFor(model: string): Bottleneck {
    let limiter = this.#clustered.get(model);
    if (!limiter) {
      if (this.#closed || !this.#redis) throw new ShuttingDownError();
      // One connection for every model's limiter, on labelq's own client (Bottleneck adds only its subscriber).
      this.#connection ??= new Bottleneck.IORedisConnection({ client: this.#redis });
      limiter = new Bottleneck({
        id: `${this.#options.id}:${model}:slots`,
        datastore: "ioredis",
        connection: this.#connection,
        clearDatastore: false,
        maxConcurrent: this.#options.maxConcurrent,
        minTime: this.#options.minTimeMs,
      });
      limiter.on("error", (error: unknown) => this.#logger.debug({ err: error, model }, "call slots: bottleneck error"));
      this.#clustered.set(model, limiter);
    }
    return limiter;
  }

  /**
   * Drop the model's clustered limiter so the next call recreates it, and its settings, in Redis.
   * Only the limiter that failed: calls that failed together must not drop its replacement.
   */
  #rebuild(model: string, failed: Bottleneck): void {
    if (this.#clustered.get(model) !== failed) return;
    this.#clustered.delete(model);
    this.#logger.info({ model }, "call slots: Redis lost the limiter's settings, recreating it");
    // With a shared connection, disconnect only unsubscribes this limiter (and may return no promise).
    Promise.resolve(failed.disconnect(false)).catch(() => undefined);
  }
}

/** A failure of the slot limiter itself, before the task started. */
class SlotError extends Error {
  readonly limiter: Bottleneck;

  constructor(limiter: Bottleneck, cause: unknown) {
    super("call slot limiter failed", { cause });
    this.limiter = limiter;
  }
}
