import type { LabelValue } from "../contracts/result.ts";

/** One dimension's cached label and the hash of the definition it was labelled under. */
export interface CachedLabel {
  /** Definition hash of the dimension when this label was produced. */
  h: string;
  v: LabelValue;
}

/** Everything cached for one text under one taxonomy, model and inference parameters. */
export interface CacheEntry {
  key: string;
  labels: Record<string, CachedLabel>;
  /** Bedrock model id that produced the most recent labels. */
  model: string;
  promptVersion: string;
  /** Epoch seconds after which the entry must be ignored (TTL deletion is lazy). */
  expiresAt: number;
}

/** Counters a cache keeps for operators and benchmarks. */
export interface CacheStats {
  reads: number;
  hits: number;
  writes: number;
  errors: number;
  readCapacityUnits: number;
  writeCapacityUnits: number;
}

/** Per-text label cache. Implementations never throw for an outage: they degrade to misses and count it. */
export interface LabelCache {
  /** Entries for the keys that are cached and not expired. `signal` cuts retries of throttled reads short. */
  getMany(keys: readonly string[], signal?: AbortSignal): Promise<Map<string, CacheEntry>>;
  /** Store validated labels; a failure is logged and counted, never thrown. `signal` cuts retries short. */
  putMany(entries: readonly CacheEntry[], signal?: AbortSignal): Promise<void>;
  stats(): CacheStats;
}
