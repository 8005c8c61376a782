import { DEFAULTS } from "../config/config.ts";

/**
 * When a label cache entry written at `nowMs` expires: epoch seconds, as DynamoDB's TTL reads
 * `expiresAt`. The one place the live path and the bulk path take a cache entry's lifetime from.
 */
export function cacheExpiresAt(nowMs: number, ttlDays: number = DEFAULTS.cacheTtlDays): number {
  return Math.floor(nowMs / 1000) + ttlDays * 86_400;
}
