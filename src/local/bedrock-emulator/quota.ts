import type { QuotaOptions } from "./types.ts";

const WINDOW_MS = 60_000;

interface Entry {
  at: number;
  tokens: number;
}

/** Why a call was refused and, when known, when it could fit. */
export interface QuotaRefusal {
  reason: "rpm" | "tpm";
  retryAfterSeconds: number | undefined;
}

/** Rolling 60 s windows of requests and tokens; only accepted calls are recorded. */
export class QuotaWindow {
  #entries: Entry[] = [];
  #quota: QuotaOptions;
  readonly #now: () => number;

  constructor(quota: QuotaOptions, now: () => number = Date.now) {
    this.#quota = quota;
    this.#now = now;
  }

  set quota(quota: QuotaOptions) {
    this.#quota = quota;
  }

  clear(): void {
    this.#entries = [];
  }

  /** Records the call when it fits both limits, else says which limit refused it. */
  tryAccept(tokens: number): QuotaRefusal | undefined {
    const now = this.#now();
    this.#entries = this.#entries.filter((e) => e.at > now - WINDOW_MS);
    const { rpm, tpm } = this.#quota;
    const secondsUntil = (at: number) => Math.max(1, Math.ceil((at + WINDOW_MS - now) / 1000));
    if (rpm !== undefined && this.#entries.length + 1 > rpm) {
      // Room for one more request once the entry that makes the count too high leaves the window.
      const blocking = this.#entries[this.#entries.length - rpm];
      return { reason: "rpm", retryAfterSeconds: blocking === undefined ? undefined : secondsUntil(blocking.at) };
    }
    if (tpm !== undefined) {
      let used = this.#entries.reduce((sum, e) => sum + e.tokens, 0);
      if (used + tokens > tpm) {
        let retryAfterSeconds: number | undefined;
        if (tokens <= tpm) {
          for (const e of this.#entries) {
            used -= e.tokens;
            if (used + tokens <= tpm) {
              retryAfterSeconds = secondsUntil(e.at);
              break;
            }
          }
        }
        return { reason: "tpm", retryAfterSeconds };
      }
    }
    this.#entries.push({ at: now, tokens });
    return undefined;
  }
}
