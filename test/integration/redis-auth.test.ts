import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QuotaLimiter } from "../../src/adapters/limiter/quota-limiter.ts";
import { LIMITER_ACL_COMMANDS, limiterAclPatterns } from "../../src/adapters/limiter/redis-connection.ts";
import { checkLimiterRedis } from "../../src/app/ops/preflight.ts";
import { describeError } from "../../src/cli/describe-error.ts";
import { type Config, loadConfig } from "../../src/core/config/config.ts";
import { WorkerStartError } from "../../src/core/errors/errors.ts";
import { createLogger } from "../../src/core/observability/logger.ts";
import type { ModelCall } from "../../src/core/quota/rate-limiter.ts";
import { until } from "../support/until.ts";

// Redis AUTH against the real Redis of the tests (no password for its default user, which is left
// alone): each run makes ACL users of its own, with passwords, and deletes them afterwards.

const redisUrl = process.env.LABELQ_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const admin = new Redis(redisUrl);

const run = randomUUID().slice(0, 8);
/** The limiter's id: its keys are `<id>:*`, Bottleneck's keys and channels `b_<id>:*`. */
const id = `labelq-auth-${run}`;
/** A user whose ACL covers the limiter's keys and channels, with the commands configuration.md lists (not +@all). */
const user = `labelq-test-${run}`;
/** A user scoped to `~labelq*` only: the limiter's own keys, not Bottleneck's `b_` keys and channels. */
const narrowUser = `labelq-test-narrow-${run}`;
/** A user only the limiter with the wrong token logs in as, so that Redis's count of refused logins is its alone. */
const wrongUser = `labelq-test-wrong-${run}`;
// With every character ElastiCache allows in a token besides letters and digits.
const token = `Tok3n-${run}-!&#$^<>-`;
const wrongToken = `Wr0ng-${run}-!&#$^<>-`;
const model = "llama3.3-70b";

/** The configuration a worker would load: the URL from plain settings, the token from a secret. */
function configWith(secret: Record<string, string>): Config {
  return loadConfig({ LABELQ_REDIS_URL: redisUrl, LABELQ_LIMITER_ID: id, ...secret });
}

/** A logger at debug level whose JSON lines end up in one string. */
function capture(): { logger: ReturnType<typeof createLogger>; raw: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ level: "debug", logTexts: false }, stream), raw: () => chunks.join("") };
}

/** How many logins of `name` Redis refused, by its ACL LOG (similar entries are merged into one with a count). */
async function refusedLogins(name: string): Promise<number> {
  const entries = (await admin.call("ACL", "LOG")) as unknown[][];
  let count = 0;
  for (const entry of entries) {
    const fields = new Map<string, unknown>();
    for (let k = 0; k + 1 < entry.length; k += 2) fields.set(String(entry[k]), entry[k + 1]);
    if (fields.get("reason") === "auth" && fields.get("username") === name) count += Number(fields.get("count"));
  }
  return count;
}

async function refusal(promise: Promise<unknown>): Promise<WorkerStartError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkerStartError);
  return error as WorkerStartError;
}

beforeAll(async () => {
  await admin.call("ACL", "SETUSER", user, "reset", "on", `>${token}`, ...limiterAclPatterns(id).split(" "), ...LIMITER_ACL_COMMANDS.split(" "));
  await admin.call("ACL", "SETUSER", narrowUser, "reset", "on", `>${token}`, "~labelq*", "+@all");
  await admin.call("ACL", "SETUSER", wrongUser, "reset", "on", `>${token}`, ...limiterAclPatterns(`${id}-wrong`).split(" "), "+@all");
});

afterAll(async () => {
  await admin.call("ACL", "DELUSER", user, narrowUser, wrongUser);
  const keys = [...(await admin.keys(`${id}:*`)), ...(await admin.keys(`b_${id}:*`))];
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
});

describe("the limiter's Redis with an ACL user and LABELQ_REDIS_AUTH_TOKEN", () => {
  it("passes the start-up check with the right token, and shares the quota window and call slots through Redis", async () => {
    const config = configWith({ LABELQ_REDIS_USERNAME: user, LABELQ_REDIS_AUTH_TOKEN: token });
    expect(await checkLimiterRedis(config.limiter)).toEqual({ ok: true });

    const { logger, raw } = capture();
    const limiter = new QuotaLimiter(
      { maxConcurrent: 2, minTimeMs: 0, redisUrl: config.limiter.redisUrl, id, quotaFor: () => ({ rpm: 1_000, tpm: 0 }), localShare: 1 },
      logger,
    );
    try {
      const call: ModelCall = { model, tokens: 100 };
      await Promise.all(Array.from({ length: 4 }, () => limiter.schedule(call, () => Promise.resolve())));
      for (let k = 0; k < 4; k++) limiter.report(call, { outcome: "failed" });
    } finally {
      await limiter.close();
    }
    // The window and Bottleneck's settings are in Redis under the limiter's id: the calls went
    // through Redis as the ACL user, not through a local fallback.
    expect(await admin.exists(`${id}:${model}:window`)).toBe(1);
    expect(await admin.exists(`b_${id}:${model}:slots_settings`)).toBe(1);
    expect(raw()).not.toMatch(/limiter lost Redis|refused/);
  });

  it("keeps working with the password in LABELQ_REDIS_URL instead", async () => {
    const inUrl = redisUrl.replace("://", `://${user}:${encodeURIComponent(token)}@`);
    const config = loadConfig({ LABELQ_REDIS_URL: inUrl, LABELQ_LIMITER_ID: id });
    expect(await checkLimiterRedis(config.limiter)).toEqual({ ok: true });
  });

  it("refuses to start, in one typed non-retryable line that names the variable, with a wrong token", async () => {
    const config = configWith({ LABELQ_REDIS_USERNAME: user, LABELQ_REDIS_AUTH_TOKEN: wrongToken });
    const error = await refusal(checkLimiterRedis(config.limiter));
    expect(error.code).toBe("WORKER_CANNOT_START");
    expect(error.retryable).toBe(false);
    const line = describeError(error);
    expect(line.split("\n")).toHaveLength(1);
    expect(line).toMatch(
      /^WORKER_CANNOT_START: Redis at redis:\/\/[^@\s]+ \(LABELQ_REDIS_URL\) refused the limiter's credentials: WRONGPASS .*; check LABELQ_REDIS_AUTH_TOKEN \(and LABELQ_REDIS_USERNAME for an ACL user\)$/,
    );
    for (const secret of [wrongToken, encodeURIComponent(wrongToken), token]) expect(line).not.toContain(secret);
  });

  it("refuses to start, naming the ACL patterns it needs, when the user's ACL covers only ~labelq*", async () => {
    const config = configWith({ LABELQ_REDIS_USERNAME: narrowUser, LABELQ_REDIS_AUTH_TOKEN: token });
    const error = await refusal(checkLimiterRedis(config.limiter));
    expect(error.code).toBe("WORKER_CANNOT_START");
    expect(describeError(error)).toMatch(
      new RegExp(`does not let the limiter's user use its keys, channels or commands: NOPERM .*; the user's ACL needs ~${id}:\\* ~b_${id}:\\* &b_${id}:\\* for LABELQ_LIMITER_ID=${id}, and \\+@read .* \\(or \\+@all\\)$`),
    );
  });

  it("lets the worker start when Redis cannot be reached at all (the limiter limits locally until it is back)", async () => {
    // Port 1 on the loopback: nothing listens there, so the connection is refused at once.
    const config = loadConfig({ LABELQ_REDIS_URL: "redis://127.0.0.1:1", LABELQ_REDIS_AUTH_TOKEN: token, LABELQ_LIMITER_ID: id });
    const access = await checkLimiterRedis(config.limiter, 2_000);
    expect(access).toMatchObject({ ok: false, why: "unreachable", error: { message: expect.stringMatching(/ECONNREFUSED/) as unknown } });
  });

  it("logs a refused token once as an error, without the token, and limits locally meanwhile", async () => {
    const config = configWith({ LABELQ_REDIS_USERNAME: wrongUser, LABELQ_REDIS_AUTH_TOKEN: wrongToken });
    const { logger, raw } = capture();
    const limiter = new QuotaLimiter(
      { maxConcurrent: 2, minTimeMs: 0, redisUrl: config.limiter.redisUrl, id: `${id}-wrong`, quotaFor: () => ({ rpm: 1_000, tpm: 0 }), localShare: 1 },
      logger,
    );
    try {
      await until(() => raw().includes("limiter: Redis refused the credentials"), "the limiter's error line about the refused token");
      // ioredis reconnects, and Redis refuses each attempt (its ACL LOG counts them): the line is not repeated.
      await until(async () => (await refusedLogins(wrongUser)) >= 3, `three refused logins of ${wrongUser} in Redis's ACL LOG`);
      expect(await limiter.schedule({ model, tokens: 1 }, () => Promise.resolve("ran locally"))).toBe("ran locally");
    } finally {
      await limiter.close();
    }
    const lines = raw().trim().split("\n").map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string; command?: unknown } });
    const refused = lines.filter((l) => l.msg.startsWith("limiter: Redis refused the credentials"));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ level: 50, err: { message: expect.stringMatching(/^WRONGPASS/) as unknown, command: { name: "auth", args: "[redacted]" } } });
    for (const secret of [wrongToken, encodeURIComponent(wrongToken)]) expect(raw()).not.toContain(secret);
    expect(await admin.exists(`b_${id}-wrong:${model}:slots_settings`)).toBe(0);
  });
});
