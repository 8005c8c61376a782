import type { QuotaLimits, QuotaOptions } from "./types.ts";

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

/** One quota window: Bedrock's quotas are per account, per Region and per model (or inference profile). */
export interface QuotaWindow {
  account: string;
  region: string;
  modelId: string;
}

const DAY_MS = 24 * 60 * 60_000;

/** The flex share of a window when the setting is not given (the emulator's choice; Bedrock publishes none). */
export const DEFAULT_FLEX_SHED_AT = 0.8;

/** The limits that apply to one account in one Region: the most specific setting of each field wins. */
export function quotaLimits(quota: QuotaOptions, account: string, region: string): QuotaLimits {
  const layers = [quota, quota.byRegion?.[region], quota.byAccount?.[account], quota.byAccount?.[account]?.byRegion?.[region]];
  const limits: QuotaLimits = {};
  for (const layer of layers) {
    if (layer === undefined) continue;
    if (layer.rpm !== undefined) limits.rpm = layer.rpm;
    if (layer.tpm !== undefined) limits.tpm = layer.tpm;
    if (layer.tpd !== undefined) limits.tpd = layer.tpd;
  }
  return limits;
}

/**
 * Bedrock's quotas: requests and tokens per rolling minute, tokens per day. A call is checked
 * and recorded when it starts, holding its reservation (input + cache + maxTokens, docs:
 * quotas-token-burndown) until it settles; only accepted calls are recorded. Each account,
 * Region and model id has its own windows (docs: quotas-runtime, "per model, per Region"); the
 * service tiers share them (docs: service-tiers-inference). Tests may shorten the minute
 * (`windowSeconds`); rpm and tpm scale with it, tpd always uses 24 hours.
 */
export class QuotaLedger {
  readonly #entries = new Map<string, Entry[]>();
  #quota: QuotaOptions;
  readonly #now: () => number;

  constructor(quota: QuotaOptions, now: () => number = Date.now) {
    this.#quota = quota;
    this.#now = now;
  }

  get quota(): QuotaOptions {
    return this.#quota;
  }

  set quota(quota: QuotaOptions) {
    this.#quota = quota;
  }

  clear(): void {
    this.#entries.clear();
  }

  /**
   * Records a call of `tokens` quota tokens in its window when it fits every limit, else says
   * which limit refused it. A flex call (`flex`) must also leave the minute at or below
   * `flexShedAt` of rpm and tpm, so under load flex calls are the first refused.
   */
  tryReserve(window: QuotaWindow, tokens: number, flex = false): Reservation | QuotaRefusal {
    const now = this.#now();
    const { windowSeconds = 60, retryAfter = false, flexShedAt = DEFAULT_FLEX_SHED_AT } = this.#quota;
    const { rpm, tpm, tpd } = quotaLimits(this.#quota, window.account, window.region);
    const key = [window.account, window.region, window.modelId].join("\u0000");
    const windowMs = windowSeconds * 1000;
    const keepMs = tpd === undefined ? windowMs : Math.max(windowMs, DAY_MS);
    const entries = (this.#entries.get(key) ?? []).filter((e) => e.at > now - keepMs);
    this.#entries.set(key, entries);
    const minute = entries.filter((e) => e.at > now - windowMs);
    const scale = windowMs / 60_000;
    const share = flex ? flexShedAt : 1;
    // A shorter window scales the limits, but a zero quota stays zero; flex gets its share of the minute.
    const scaled = (limit: number | undefined) => (limit === undefined ? undefined : limit === 0 ? 0 : Math.floor(Math.max(1, Math.floor(limit * scale)) * share));
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
