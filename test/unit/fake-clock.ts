import type { Clock } from "../../src/core/util/clock.ts";

/** Let promise chains started by a fired wait run to their next wait (no wall-clock time involved). */
export async function drain(): Promise<void> {
  for (let k = 0; k < 5; k++) await new Promise((resolve) => setImmediate(resolve));
}

/** A wait on the fake clock. */
interface Sleeper {
  at: number;
  wake: () => void;
}

/** A clock that moves only when the test advances it; its waits fire in time order. */
export class FakeClock implements Clock {
  #now: number;
  #sleepers: Sleeper[] = [];

  constructor(start = Date.parse("2026-01-01T00:00:00Z")) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Waits not yet due (a loop asleep between passes holds one). */
  get waiting(): number {
    return this.#sleepers.length;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new DOMException("The operation was aborted", "AbortError"));
    return new Promise((resolve, reject) => {
      const sleeper: Sleeper = {
        at: this.#now + Math.max(0, ms),
        wake: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(new DOMException("The operation was aborted", "AbortError"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#sleepers.push(sleeper);
    });
  }

  /** Move time on by `ms`, waking each wait that falls due in order and letting what it starts run. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      await drain();
      const due = this.#sleepers.filter((s) => s.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.#sleepers = this.#sleepers.filter((s) => s !== due);
      this.#now = Math.max(this.#now, due.at);
      due.wake();
    }
    this.#now = end;
    await drain();
  }
}
