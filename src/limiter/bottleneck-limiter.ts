import Bottleneck from "bottleneck";
import IORedis from "ioredis";
import type { Logger } from "pino";
import type { RateLimiter } from "./rate-limiter.ts";

export interface LimiterOptions {
  maxConcurrent: number;
  minTimeMs: number;
  /** With a Redis URL every process sharing `id` shares one limiter (Bottleneck clustering). */
  redisUrl?: string;
  id: string;
}

/**
 * RateLimiter on Bottleneck. Concurrency and spacing for now; token weights are accepted so
 * callers need not change when a tokens-per-minute reservoir is added.
 */
export class BottleneckLimiter implements RateLimiter {
  readonly #limiter: Bottleneck;

  constructor(options: LimiterOptions, logger: Logger) {
    const settings: Bottleneck.ConstructorOptions = {
      maxConcurrent: options.maxConcurrent,
      minTime: options.minTimeMs,
      id: options.id,
    };
    if (options.redisUrl) {
      this.#limiter = new Bottleneck({
        ...settings,
        datastore: "ioredis",
        clearDatastore: false,
        clientOptions: options.redisUrl,
        // Clustered limiters refresh shared state on the heartbeat; the default 5 s is too coarse (bottleneck#185 area).
        heartbeatInterval: 250,
        Redis: IORedis,
      });
    } else {
      this.#limiter = new Bottleneck(settings);
    }
    this.#limiter.on("error", (error: unknown) => logger.error({ err: error }, "rate limiter error"));
  }

  schedule<T>(_weight: number, task: () => Promise<T>): Promise<T> {
    return this.#limiter.schedule(task);
  }

  queued(): number {
    return this.#limiter.queued();
  }

  async close(): Promise<void> {
    await this.#limiter.disconnect(false);
  }
}
