import { Redis, type RedisOptions } from "ioredis";

/**
 * Options of every client the limiter makes from its Redis URL. The URL carries the credentials
 * (config puts LABELQ_REDIS_USERNAME and LABELQ_REDIS_AUTH_TOKEN in it), and a client duplicated
 * from it (Bottleneck's subscriber) keeps them.
 */
export const LIMITER_REDIS_OPTIONS: RedisOptions = {
  // Fail fast while Redis is away, so lanes fall back to local windows instead of queueing blind.
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2_000,
};

/**
 * Redis refused the client's credentials: a wrong password or user (WRONGPASS), none where one is
 * required (NOAUTH), or a server before Redis 6 that has another password ("ERR invalid password").
 * Trying again with the same credentials cannot help.
 */
export function isCredentialsRefusal(error: unknown): boolean {
  const message = error instanceof Error ? error.message : "";
  return /\b(WRONGPASS|NOAUTH)\b/.test(message) || /\bERR invalid password\b/i.test(message);
}

/** The ACL user may not run a command, or use a key or channel, that the limiter needs (NOPERM). */
export function isPermissionRefusal(error: unknown): boolean {
  return error instanceof Error && /\bNOPERM\b/.test(error.message);
}

/**
 * The keys and channels of limiter `id` in Redis, as an ACL's key (`~`) and channel (`&`)
 * patterns: the quota windows and adaptive rates are `<id>:<model>:window` and `<id>:<model>:aimd`;
 * Bottleneck's call slots (id `<id>:<model>:slots`) keep keys `b_<id>:<model>:slots_*` and talk on
 * channels `b_<id>:<model>:slots[_<client>]`. A user scoped to `~<id>*` alone cannot take a slot.
 */
export function limiterAclPatterns(id: string): string {
  return `~${id}:* ~b_${id}:* &b_${id}:*`;
}

/**
 * The command categories the limiter uses, as an ACL's command rules: scripts over sorted sets and
 * hashes (windows, adaptive rates, Bottleneck), publish and subscribe (Bottleneck), the connection's
 * own commands, and INFO (ioredis's ready check). Narrower than `+@all`, which also works.
 */
export const LIMITER_ACL_COMMANDS = "+@read +@write +@scripting +@pubsub +@connection -@dangerous +info";

/** What a connection to the limiter's Redis found: usable, or why not. */
export type RedisAccess =
  | { ok: true }
  | {
      ok: false;
      /** refused: the credentials; forbidden: the ACL user's permissions; unreachable: anything else (network, timeout). */
      why: "refused" | "forbidden" | "unreachable";
      /** Redis's (or the socket's) own words, without the command ioredis attaches to a reply error (AUTH's holds the password). */
      error: Error;
    };

/**
 * Connect once with the limiter's options and credentials, then do what the limiter does on each
 * kind of key and channel: run a script declaring a key of each family, and publish on a channel
 * of Bottleneck's (no limiter listens on it). Never retries; the client is closed before it returns.
 */
export async function checkRedisAccess(url: string, id: string, timeoutMs = 5_000): Promise<RedisAccess> {
  const redis = new Redis(url, { ...LIMITER_REDIS_OPTIONS, connectTimeout: timeoutMs, commandTimeout: timeoutMs, lazyConnect: true, retryStrategy: () => null });
  // A refused AUTH arrives as an "error" event; connect() then rejects with only "Connection is closed."
  let lastError: unknown;
  redis.on("error", (error) => (lastError = error));
  try {
    try {
      await redis.connect();
    } catch (error) {
      return refusal(lastError ?? error);
    }
    try {
      await redis.eval("return 1", 2, `${id}:access-check`, `b_${id}:access-check`);
      await redis.publish(`b_${id}:access-check`, "");
    } catch (error) {
      return refusal(error);
    }
    return { ok: true };
  } finally {
    redis.disconnect();
  }
}

function refusal(error: unknown): RedisAccess {
  const plain = new Error(error instanceof Error ? error.message : String(error));
  plain.name = error instanceof Error ? error.name : "Error";
  const why = isCredentialsRefusal(error) ? "refused" : isPermissionRefusal(error) ? "forbidden" : "unreachable";
  return { ok: false, why, error: plain };
}

/** The scheme, host and port of a Redis URL, without the credentials it may hold (for messages). */
export function redisAddress(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return "the Redis URL";
  }
}
