import type { QuotaOptions } from "./types.ts";


interface Entry {
  at: number;
  tokens: number;
}

/** Why a call was refused and, when known, when it could fit. */
export interface QuotaRefusal {
  reason: "rpm" | "tpm";
  retryAfterSeconds: number | undefined;
}

/**
 * Rolling windows of requests and tokens; only accepted calls are recorded. The window is
 * 60 s like Bedrock's per-minute quotas; tests may shorten it (`windowSeconds`), the limits
 * then scale with it so rpm and tpm still mean "per minute".
 */
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
    const windowMs = (this.#quota.windowSeconds ?? 60) * 1000;
    this.#entries = this.#entries.filter((e) => e.at > now - windowMs);
    const scale = windowMs / 60_000;
    // A shorter window scales the limits, but a zero quota stays zero.
    const scaled = (limit: number | undefined) => (limit === undefined ? undefined : limit === 0 ? 0 : Math.max(1, Math.floor(limit * scale)));
    const rpm = scaled(this.#quota.rpm);
    const tpm = scaled(this.#quota.tpm);
    const secondsUntil = (at: number) => Math.max(1, Math.ceil((at + windowMs - now) / 1000));
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
