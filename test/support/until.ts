import { setTimeout as sleep } from "node:timers/promises";

export interface UntilOptions {
  /** What is awaited, as the failure message should name it: "batch b1 in results". */
  what: string;
  /**
   * A safety net, not an assertion: a wait that never comes true fails with `what` instead of a
   * bare test timeout. Generous, so a loaded machine only makes a test slower, never wrong.
   */
  within?: number;
  /** How often `check` is asked again. */
  every?: number;
}

/** The safety net of a wait that gives none: longer than any condition a test waits on takes on a busy 2-core machine. */
export const GENEROUS_MS = 120_000;

/** Wait until `check` holds; fails naming `what` if it has not after `within` ms. */
export async function until(check: () => boolean | Promise<boolean>, options: UntilOptions | string = "a condition"): Promise<void> {
  const { what, within = GENEROUS_MS, every = 20 } = typeof options === "string" ? { what: options } : options;
  const deadline = performance.now() + within;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`waited ${Math.round(within / 1000)} s for ${what}, and it never came`);
    await sleep(every);
  }
}
