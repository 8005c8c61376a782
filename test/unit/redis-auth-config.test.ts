import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { describeError } from "../../src/cli/describe-error.ts";
import { loadConfig, SECRET_VARIABLES } from "../../src/core/config/config.ts";
import { ConfigError } from "../../src/core/errors/errors.ts";
import { createLogger } from "../../src/core/observability/logger.ts";
import { SECRET_KEYS } from "../../src/core/observability/redact.ts";
import { isCredentialsRefusal, isPermissionRefusal, limiterAclPatterns, redisAddress } from "../../src/adapters/limiter/redis-connection.ts";
import { caught } from "../support/fakes.ts";

// Every character ElastiCache allows in an AUTH token besides letters and digits (!&#$^<>-), and
// "%", which a URL would otherwise read as an escape.
const TOKEN = "Tok3n-SECRET-a1!&#$^<>-%41";
const URL_PASSWORD = "url-SECRET-b2";
const REDIS_URL = "rediss://cache.example.com:6380";

/** Every form the token could take in a log line or a message: as it is, and percent-encoded as in a URL. */
const TOKEN_FORMS = [TOKEN, encodeURIComponent(TOKEN), "Tok3n-SECRET-a1"];

function configError(env: Record<string, string>): ConfigError {
  const error = caught(() => loadConfig(env));
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

/** A logger at trace level whose JSON lines end up in one string. */
function capture(): { logger: ReturnType<typeof createLogger>; raw: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ level: "trace", logTexts: true }, stream), raw: () => chunks.join("") };
}

function expectNoToken(text: string): void {
  for (const form of TOKEN_FORMS) expect(text).not.toContain(form);
}

describe("LABELQ_REDIS_AUTH_TOKEN and LABELQ_REDIS_USERNAME", () => {
  it("put the password (and user) into the limiter's Redis URL, so that ioredis reads back exactly the token", () => {
    const config = loadConfig({ LABELQ_REDIS_URL: `${REDIS_URL}/2`, LABELQ_REDIS_AUTH_TOKEN: TOKEN, LABELQ_REDIS_USERNAME: "labelq-worker" });
    const url = new URL(config.limiter.redisUrl!);
    // ioredis decodes both with decodeURIComponent.
    expect(decodeURIComponent(url.password)).toBe(TOKEN);
    expect(decodeURIComponent(url.username)).toBe("labelq-worker");
    expect(`${url.protocol}//${url.host}${url.pathname}`).toBe(`${REDIS_URL}/2`);
  });

  it("authenticate the default user when no user is named", () => {
    const url = new URL(loadConfig({ LABELQ_REDIS_URL: REDIS_URL, LABELQ_REDIS_AUTH_TOKEN: TOKEN }).limiter.redisUrl!);
    expect(url.username).toBe("");
    expect(decodeURIComponent(url.password)).toBe(TOKEN);
  });

  it("leave a URL that holds its own password as it is", () => {
    const withPassword = `rediss://:${URL_PASSWORD}@cache.example.com:6380`;
    expect(loadConfig({ LABELQ_REDIS_URL: withPassword }).limiter.redisUrl).toBe(withPassword);
    expect(loadConfig({ LABELQ_REDIS_URL: REDIS_URL }).limiter.redisUrl).toBe(REDIS_URL);
  });

  it("refuse a password in both places, naming the token and quoting neither password", () => {
    const error = configError({ LABELQ_REDIS_URL: `rediss://:${URL_PASSWORD}@cache.example.com:6380`, LABELQ_REDIS_AUTH_TOKEN: TOKEN });
    expect(error.issues).toEqual([
      "LABELQ_REDIS_AUTH_TOKEN=[redacted]: LABELQ_REDIS_URL holds a password too: give it in one place only (keep the token, from a secret, and take the password out of the URL)",
    ]);
    expectNoToken(error.message);
    expect(error.message).not.toContain(URL_PASSWORD);
  });

  it("refuse a user in both places, a user without a password, and either without LABELQ_REDIS_URL", () => {
    expect(configError({ LABELQ_REDIS_URL: "redis://alice:pw@r:6379", LABELQ_REDIS_USERNAME: "bob" }).issues).toEqual([
      'LABELQ_REDIS_USERNAME="bob": LABELQ_REDIS_URL names a user too: give it in one place only',
    ]);
    expect(configError({ LABELQ_REDIS_URL: "redis://r:6379", LABELQ_REDIS_USERNAME: "bob" }).issues).toEqual([
      'LABELQ_REDIS_USERNAME="bob": needs LABELQ_REDIS_AUTH_TOKEN, the user\'s password (Redis authenticates a user with a password)',
    ]);
    const alone = configError({ LABELQ_REDIS_AUTH_TOKEN: TOKEN, LABELQ_REDIS_USERNAME: "bob" });
    expect(alone.issues.map((i) => i.split(":")[0])).toEqual(["LABELQ_REDIS_AUTH_TOKEN=[redacted]", 'LABELQ_REDIS_USERNAME="bob"']);
    expect(alone.issues[0]).toMatch(/needs LABELQ_REDIS_URL/);
    expectNoToken(alone.message);
  });

  it("refuse a token with a trailing newline without echoing it", () => {
    const error = configError({ LABELQ_REDIS_URL: REDIS_URL, LABELQ_REDIS_AUTH_TOKEN: `${TOKEN}\n` });
    expect(error.issues).toEqual(["LABELQ_REDIS_AUTH_TOKEN=[redacted]: has leading or trailing whitespace (a newline from the secret's value?)"]);
    expectNoToken(describeError(error));
  });

  it("quote a bad Redis URL without the password it holds", () => {
    const error = configError({ LABELQ_REDIS_URL: `http://:${URL_PASSWORD}@cache:6380` });
    expect(error.issues).toEqual(['LABELQ_REDIS_URL="http://[redacted]@cache:6380": expected a redis:// or rediss:// URL']);
  });
});

describe("the Redis token in logs", () => {
  it("is absent from a logged configuration, a logged environment and a configuration error's line", () => {
    const env = { LABELQ_REDIS_URL: REDIS_URL, LABELQ_REDIS_AUTH_TOKEN: TOKEN, LABELQ_REDIS_USERNAME: "labelq-worker" };
    const config = loadConfig(env);
    const { logger, raw } = capture();
    logger.info({ config }, "configuration");
    logger.info({ env }, "environment");
    logger.child({ limiter: config.limiter }).info("child bindings");
    const lines = raw();
    expectNoToken(lines);
    expect(lines).toContain('"redisUrl":"[redacted]"');
    expect(lines).toContain('"LABELQ_REDIS_AUTH_TOKEN":"[redacted]"');
    // Only the secrets go: the rest of the configuration is still there to read.
    expect(lines).toContain('"LABELQ_REDIS_USERNAME":"labelq-worker"');
    expect(lines).toContain('"id":"labelq"');
  });

  it("is absent from a logged Redis error that carries the refused AUTH command, as ioredis attaches it", () => {
    // ioredis's ReplyError for a refused AUTH: { command: { name: "auth", args: [user, password] } }.
    const refused = Object.assign(new Error("WRONGPASS invalid username-password pair or user is disabled."), {
      name: "ReplyError",
      command: { name: "auth", args: ["labelq-worker", TOKEN] },
    });
    const other = Object.assign(new Error("NOPERM this user has no permissions to access one of the keys used as arguments"), {
      command: { name: "eval", args: ["return 1", "1", "labelq:m:window"] },
    });
    const { logger, raw } = capture();
    logger.error({ err: refused }, "limiter: Redis refused the credentials");
    logger.warn({ nested: { cause: refused } }, "nested");
    logger.warn({ err: other }, "other command");
    const lines = raw();
    expectNoToken(lines);
    expect(lines).toContain('"command":{"name":"auth","args":"[redacted]"}');
    // Other commands' arguments are no secret, and they say what was refused.
    expect(lines).toContain('"args":["return 1","1","labelq:m:window"]');
  });

  it("is named as a secret to the logger for every secret variable of the configuration", () => {
    expect(SECRET_VARIABLES.size).toBeGreaterThan(0);
    for (const variable of SECRET_VARIABLES) expect(SECRET_KEYS.has(variable)).toBe(true);
  });
});

describe("the limiter's Redis connection", () => {
  it("tells refused credentials and refused permissions from other errors", () => {
    expect(isCredentialsRefusal(new Error("WRONGPASS invalid username-password pair or user is disabled."))).toBe(true);
    expect(isCredentialsRefusal(new Error("NOAUTH Authentication required."))).toBe(true);
    expect(isCredentialsRefusal(new Error("ERR invalid password"))).toBe(true);
    expect(isCredentialsRefusal(new Error("connect ECONNREFUSED 127.0.0.1:6380"))).toBe(false);
    expect(isPermissionRefusal(new Error("NOPERM this user has no permissions to access one of the channels used as arguments"))).toBe(true);
    expect(isPermissionRefusal(new Error("WRONGPASS invalid username-password pair"))).toBe(false);
  });

  it("names the key and channel patterns an ACL user needs, and an address without credentials", () => {
    expect(limiterAclPatterns("labelq")).toBe("~labelq:* ~b_labelq:* &b_labelq:*");
    expect(redisAddress(`rediss://user:${encodeURIComponent(TOKEN)}@cache.example.com:6380/0`)).toBe("rediss://cache.example.com:6380");
  });
});
