import { setTimeout as sleep } from "node:timers/promises";

/**
 * Time as the limiter, the bulk loop and the worker pool read and wait on it: injected, so a test moves it on
 * by hand instead of waiting on the wall clock. Every wait ends early when its signal aborts.
 */
export interface Clock {
  /** Epoch ms. */
  now(): number;
  /** Resolves after `ms`; rejects (with an AbortError) as soon as `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock; its waits keep the process alive, as a loop that must go on should. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }),
};

/** The real clock whose waits do not hold the process open (the limiter's polls and ticks). */
export const backgroundClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal, ref: false }),
};
