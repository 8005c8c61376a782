import { ShuttingDownError } from "../../core/errors/errors.ts";
import type { Clock } from "../../core/util/clock.ts";

/** How often a receive held by the gate looks again whether a model's window has room. */
const GATE_POLL_MS = 25;

/** What the gate asks of a limiter: whether a call can start, and until when a model is paused. */
export interface StartGate {
  canStart(models: readonly string[]): boolean;
  pausedUntil(model: string): number | undefined;
  /** True once the limiter is closed: the gate then throws ShuttingDownError. */
  readonly closed: boolean;
}

/**
 * Back-pressure: wait while none of `models` can start a call. With every model paused for its
 * daily quota, sleep until the first reset; otherwise look again every GATE_POLL_MS for a window
 * to admit its waiting call. Ends early on `signal` (abort) or when the limiter closes.
 */
export async function waitUntilCanStart(gate: StartGate, clock: Clock, models: readonly string[], signal: AbortSignal): Promise<void> {
  for (;;) {
    if (gate.closed) throw new ShuttingDownError();
    signal.throwIfAborted();
    if (gate.canStart(models)) return;
    const paused = models.map((m) => gate.pausedUntil(m) ?? Infinity);
    const wait = paused.every((t) => t !== Infinity) ? Math.min(...paused) - clock.now() : GATE_POLL_MS;
    await clock.sleep(Math.max(10, Math.min(wait, 60_000)), signal);
  }
}
