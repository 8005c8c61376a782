import type { QuotaOptions } from "./types.ts";

interface Entry {
  at: number;
  /** Quota tokens the call holds: its reservation until it is settled, then what it used. */
  tokens: number;
}

/** Why a call was refused and, when asked for, when it could fit. */
export interface QuotaRefusal {
  reason: "rpm" | "tpm" | "tpd";
  retryAfterSeconds: number | undefined;
}

/** A call the quota let start: settle() replaces its reservation with what it used. */
export interface Reservation {
  settle(tokens: number): void;
}

const DAY_MS = 24 * 60 * 60_000;

/**
 * Bedrock's per-model quotas: requests and tokens per rolling minute, tokens per day. A call
 * is checked and recorded when it starts, holding its reservation (input + cache +
 * maxTokens, docs: quotas-token-burndown) until it settles; only accepted calls are recorded.
 * Each model id has its own windows, as each model (and each inference profile) has its own
 * quotas. Tests may shorten the minute (`windowSeconds`); rpm and tpm scale with it, tpd
 * always uses 24 hours.
 */
export class QuotaLedger {
  readonly #entries = new Map<string, Entry[]>();
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
    this.#entries.clear();
  }

  /** Records a call of `tokens` quota tokens for modelId when it fits every limit, else says which limit refused it. */
  tryReserve(modelId: string, tokens: number): Reservation | QuotaRefusal {
    const now = this.#now();
    const { rpm, tpm, tpd, windowSeconds = 60, retryAfter = false } = this.#quota;
    const windowMs = windowSeconds * 1000;
    const keepMs = tpd === undefined ? windowMs : Math.max(windowMs, DAY_MS);
    const entries = (this.#entries.get(modelId) ?? []).filter((e) => e.at > now - keepMs);
    this.#entries.set(modelId, entries);
    const minute = entries.filter((e) => e.at > now - windowMs);
    const scale = windowMs / 60_000;
    // A shorter window scales the limits, but a zero quota stays zero.
    const scaled = (limit: number | undefined) => (limit === undefined ? undefined : limit === 0 ? 0 : Math.max(1, Math.floor(limit * scale)));
    const minuteRpm = scaled(rpm);
    const minuteTpm = scaled(tpm);
    const wait = (inWindow: Entry[], spanMs: number, fits: (left: Entry[]) => boolean): number | undefined => {
      if (!retryAfter) return undefined;
      for (let k = 1; k <= inWindow.length; k++) {
        const first = inWindow[k - 1];
        if (first !== undefined && fits(inWindow.slice(k))) return Math.max(1, Math.ceil((first.at + spanMs - now) / 1000));
      }
      return undefined;
    };
    const sum = (list: Entry[]) => list.reduce((n, e) => n + e.tokens, 0);

    if (minuteRpm !== undefined && minute.length + 1 > minuteRpm) {
      return { reason: "rpm", retryAfterSeconds: wait(minute, windowMs, (left) => left.length + 1 <= minuteRpm) };
    }
    if (minuteTpm !== undefined && sum(minute) + tokens > minuteTpm) {
      return { reason: "tpm", retryAfterSeconds: tokens > minuteTpm ? undefined : wait(minute, windowMs, (left) => sum(left) + tokens <= minuteTpm) };
    }
    if (tpd !== undefined && sum(entries) + tokens > tpd) {
      return { reason: "tpd", retryAfterSeconds: tokens > tpd ? undefined : wait(entries, DAY_MS, (left) => sum(left) + tokens <= tpd) };
    }
    const entry: Entry = { at: now, tokens };
    entries.push(entry);
    return {
      settle: (used: number) => {
        entry.tokens = used;
      },
    };
  }
}

/** True when tryReserve refused the call. */
export function isRefusal(value: Reservation | QuotaRefusal): value is QuotaRefusal {
  return "reason" in value;
}
