/**
 * One breaker per model, per process. After `threshold` calls in a row fail with the model
 * unavailable, it opens: calls skip the model (to a fallback, or back to the queue) for
 * `cooldownMs`. Then one trial call is let through (half-open): success closes it, failure
 * opens it again.
 */
export class CircuitBreakers {
  readonly #threshold: number;
  readonly #cooldownMs: number;
  readonly #now: () => number;
  readonly #state = new Map<string, { failures: number; openedAt?: number; trial: boolean }>();

  constructor(options: { threshold: number; cooldownMs: number }, now: () => number = Date.now) {
    this.#threshold = options.threshold;
    this.#cooldownMs = options.cooldownMs;
    this.#now = now;
  }

  /** May a call go to this model now? Takes the half-open trial slot when due. */
  allow(model: string): boolean {
    const s = this.#state.get(model);
    if (!s || s.openedAt === undefined) return true;
    if (this.#now() - s.openedAt < this.#cooldownMs || s.trial) return false;
    s.trial = true;
    return true;
  }

  success(model: string): void {
    this.#state.set(model, { failures: 0, trial: false });
  }

  /**
   * Give back the half-open trial slot when the trial call ended saying nothing about the
   * model's availability (throttled, rejected, stopped): the next call may be the trial.
   * Without this, such a trial left the breaker open for good.
   */
  release(model: string): void {
    const s = this.#state.get(model);
    if (s) s.trial = false;
  }

  /** Count an unavailability failure; returns true when this opened (or re-opened) the breaker. */
  failure(model: string): boolean {
    const s = this.#state.get(model) ?? { failures: 0, trial: false };
    s.failures += 1;
    const open = s.trial || s.failures >= this.#threshold;
    if (open) {
      s.openedAt = this.#now();
      s.trial = false;
    }
    this.#state.set(model, s);
    return open;
  }

  /** "closed", "open" or "half-open", for metrics and logs. */
  state(model: string): "closed" | "open" | "half-open" {
    const s = this.#state.get(model);
    if (!s || s.openedAt === undefined) return "closed";
    return this.#now() - s.openedAt < this.#cooldownMs ? "open" : "half-open";
  }

  models(): string[] {
    return [...this.#state.keys()];
  }
}
