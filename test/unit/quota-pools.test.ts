import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { poolFailure, PooledBedrockProvider } from "../../src/adapters/bedrock/bedrock-provider.ts";
import { createPooledLimiter, poolQuota } from "../../src/adapters/limiter/pool-setup.ts";
import { type Pool, type PoolLimiter, PooledLimiter } from "../../src/adapters/limiter/pooled-limiter.ts";
import { QuotaLimiter } from "../../src/adapters/limiter/quota-limiter.ts";
import { BEDROCK_WINDOW } from "../../src/adapters/limiter/quota-window.ts";
import { loadConfig } from "../../src/core/config/config.ts";
import { ConfigError, ModelCallError } from "../../src/core/errors/errors.ts";
import { loadModelCatalogue } from "../../src/core/models/model-catalogue.ts";
import type { ModelRequest } from "../../src/core/models/model-provider.ts";
import { currentRoute } from "../../src/core/quota/pool-route.ts";
import { type Headroom, mostHeadroom, residencyRefusal } from "../../src/core/quota/pools.ts";
import type { CallFeedback, ModelCall } from "../../src/core/quota/rate-limiter.ts";
import type { Clock } from "../../src/core/util/clock.ts";
import { caught, PassThroughLimiter, rejection, silentLogger } from "../support/fakes.ts";

const MODEL = "llama3.3-70b";
const call = (tokens = 100): ModelCall => ({ model: MODEL, tokens });

/** A pool limiter with the headroom a test sets: runs every task at once, records reports. */
class FakePoolLimiter extends PassThroughLimiter implements PoolLimiter {
  room: Headroom;
  full = false;

  constructor(room: Headroom) {
    super();
    this.room = room;
  }

  headroom(c: ModelCall): Promise<Headroom> {
    return Promise.resolve({ tokens: this.room.tokens - c.tokens, requests: this.room.requests - 1 });
  }

  canStart(): boolean {
    return !this.full;
  }
}

/** A clock a test moves by hand. */
function manualClock(start = 1_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    sleep: () => new Promise(() => undefined),
    advance(ms) {
      now += ms;
    },
  };
}

function pool(id: string, room: Headroom, region = id): Pool & { limiter: FakePoolLimiter } {
  return { id, region, limiter: new FakePoolLimiter(room) };
}

/** Run a call through the limiter; the value is the pool's Region the task saw as its route. */
function routeOf(limiter: PooledLimiter, c: ModelCall = call()): Promise<string | undefined> {
  return limiter.schedule(c, () => Promise.resolve(currentRoute()?.region));
}

describe("LABELQ_POOLS", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it("reads pools inline or from a file, each id defaulted to its Region", () => {
    const inline = loadConfig({ LABELQ_POOLS: '[{"region":"us-east-1"},{"region":"us-west-2","rpm":200,"id":"west"}]' }).limiter.pools;
    expect(inline).toEqual([
      { region: "us-east-1", id: "us-east-1" },
      { region: "us-west-2", rpm: 200, id: "west" },
    ]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-pools-"));
    dirs.push(dir);
    const file = path.join(dir, "pools.json");
    fs.writeFileSync(file, '[{"region":"eu-west-1","tpm":5000}]');
    expect(loadConfig({ LABELQ_POOLS: file }).limiter.pools).toEqual([{ region: "eu-west-1", tpm: 5000, id: "eu-west-1" }]);
    expect(loadConfig({}).limiter.pools).toBeUndefined();
  });

  it("names the pool index and field of each problem, all in one error", () => {
    const error = caught(() =>
      loadConfig({ LABELQ_POOLS: '[{"region":"us-east-1"},{"region":"nowhere","rpm":-1},{"region":"us-east-1","modelId":"x","tier":"flex","colour":"red"}]' }),
    ) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    const issues = error.issues.join("\n");
    expect(issues).toMatch(/LABELQ_POOLS=.*pool 1 field region: expected an AWS Region/);
    expect(issues).toMatch(/pool 1 field rpm: expected an integer from 0/);
    expect(issues).toMatch(/pool 2: Unrecognized key.*colour/);
  });

  it("refuses a model id without its model, the reserved tier, two pools with one id, a missing file and an empty list", () => {
    const issues = (value: string) => (caught(() => loadConfig({ LABELQ_POOLS: value })) as ConfigError).issues.join("\n");
    expect(issues('[{"region":"us-east-1","modelId":"x"}]')).toMatch(/pool 0 field modelId: needs "model"/);
    expect(issues('[{"region":"us-east-1","tier":"reserved"}]')).toMatch(/pool 0 field tier: "reserved" needs a capacity reservation/);
    expect(loadConfig({ LABELQ_POOLS: '[{"region":"us-east-1","tier":"flex"}]' }).limiter.pools?.[0]?.tier).toBe("flex");
    expect(issues('[{"region":"us-east-1"},{"region":"us-east-1"}]')).toMatch(/pool 1 field id: "us-east-1" is pool 0's id too/);
    expect(issues("/no/such/pools.json")).toMatch(/cannot read the pools file/);
    expect(issues("[]")).toMatch(/expected a non-empty JSON list of pools/);
    expect(issues("[nope")).toMatch(/expected a JSON list/);
  });

  it("gives each pool its own limits over LABELQ_QUOTAS and LABELQ_QUOTA_*", () => {
    const config = loadConfig({ LABELQ_QUOTA_RPM: "10", LABELQ_QUOTA_TPM: "1000", LABELQ_QUOTAS: `{"${MODEL}":{"tpm":2000}}` });
    expect(poolQuota(config.limiter, {}, MODEL)).toEqual({ rpm: 10, tpm: 2000 });
    expect(poolQuota(config.limiter, { rpm: 3 }, MODEL)).toEqual({ rpm: 3, tpm: 2000 });
    expect(poolQuota(config.limiter, { tpm: 7 }, "other")).toEqual({ rpm: 10, tpm: 7 });
  });
});

describe("residency", () => {
  const scope = { residency: "geography" as const, homeRegion: "us-east-1", geography: "us" as const };

  it("keeps region residency to AWS_REGION, geography to its Regions, and lets a global profile go anywhere", () => {
    expect(residencyRefusal({ region: "us-east-1" }, "inRegion", { ...scope, residency: "region" })).toBeUndefined();
    expect(residencyRefusal({ region: "us-west-2" }, "inRegion", { ...scope, residency: "region" })).toMatch(/LABELQ_RESIDENCY=region keeps prompts in us-east-1/);
    expect(residencyRefusal({ region: "us-west-2" }, "us", scope)).toBeUndefined();
    expect(residencyRefusal({ region: "eu-west-1" }, "us", scope)).toMatch(/us geography, and eu-west-1 is in eu/);
    expect(residencyRefusal({ region: "eu-west-1" }, "global", { ...scope, residency: "global" })).toBeUndefined();
    expect(residencyRefusal({ region: "eu-west-1" }, "us", { ...scope, residency: "global" })).toMatch(/eu-west-1 is in eu/);
  });

  it("at start: logs a pool the residency keeps out, refuses when no pool may carry the default model, and refuses roleArn", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
    const config = loadConfig({ LABELQ_RESIDENCY: "region", LABELQ_DEFAULT_MODEL: "nova-lite", LABELQ_FALLBACK_MODELS: "none", LABELQ_POOLS: '[{"region":"us-east-1"},{"region":"us-west-2"}]' });
    const catalogue = loadModelCatalogue({ geography: "us", residency: "region", region: "us-east-1" });
    const base = { maxConcurrent: 4, minTimeMs: 0, localShare: 1, timing: BEDROCK_WINDOW };
    const limiter = createPooledLimiter(config, config.limiter.pools!, catalogue, base, logger);
    try {
      expect(limiter.poolsFor("nova-lite").map((p) => p.id)).toEqual(["us-east-1"]);
      const warning = lines.map((l) => JSON.parse(l) as { msg: string; pool?: string }).find((l) => l.pool === "us-west-2");
      expect(warning?.msg).toMatch(/quota pool not used: LABELQ_RESIDENCY=region keeps prompts in us-east-1/);
    } finally {
      await limiter.close();
    }
    const stranded = loadConfig({ LABELQ_RESIDENCY: "region", LABELQ_DEFAULT_MODEL: "nova-lite", LABELQ_FALLBACK_MODELS: "none", LABELQ_POOLS: '[{"region":"us-west-2"}]' });
    expect((caught(() => createPooledLimiter(stranded, stranded.limiter.pools!, catalogue, base, silentLogger())) as ConfigError).issues[0]).toMatch(
      /LABELQ_POOLS: no pool may carry nova-lite: us-west-2: LABELQ_RESIDENCY=region keeps prompts in us-east-1/,
    );
    const role = loadConfig({ LABELQ_POOLS: '[{"region":"us-east-1","roleArn":"arn:aws:iam::123456789012:role/labelq"}]' });
    const usCatalogue = loadModelCatalogue({ geography: "us", region: "us-east-1" });
    // A pool in another account (its role) is set up like any other: its client assumes the role.
    const rolePooled = createPooledLimiter(role, role.limiter.pools!, usCatalogue, base, silentLogger());
    try {
      expect(rolePooled.poolsFor("nova-lite").map((p) => p.id)).toEqual(["us-east-1"]);
    } finally {
      await rolePooled.close();
    }
  });
});

describe("a pool's headroom", () => {
  it("is its window's room at the adaptive rate after the call's reservation, and falls as calls are admitted and rises as they settle", async () => {
    const limiter = new QuotaLimiter({ maxConcurrent: 4, minTimeMs: 0, id: "t", quotaFor: () => ({ rpm: 10, tpm: 10_000 }), localShare: 1 }, silentLogger());
    try {
      const reserve = { inputTokens: 600, cacheTokens: 0, maxTokens: 400, outputBurnDown: 1 };
      const c: ModelCall = { model: MODEL, tokens: 1_000, reserve };
      expect(await limiter.headroom(c)).toEqual({ tokens: 9_000, requests: 9 });
      await limiter.schedule(c, () => Promise.resolve());
      expect(await limiter.headroom(c)).toEqual({ tokens: 8_000, requests: 8 });
      limiter.report(c, { outcome: "ok", usage: { inputTokens: 600, outputTokens: 100 } });
      await expect.poll(() => limiter.headroom(c)).toEqual({ tokens: 8_300, requests: 8 });
      // Another model has its own, empty window.
      expect(await limiter.headroom({ model: "other", tokens: 5 })).toEqual({ tokens: 9_995, requests: 9 });
    } finally {
      await limiter.close();
    }
  });
});

describe("choosing a pool", () => {
  it("takes the pool the call fits in with the most tokens left, then the most requests left, and shares ties", () => {
    expect(mostHeadroom([{ pool: "a", headroom: { tokens: 10, requests: 5 } }, { pool: "b", headroom: { tokens: 20, requests: 1 } }])).toBe("b");
    expect(mostHeadroom([{ pool: "a", headroom: { tokens: 10, requests: 5 } }, { pool: "b", headroom: { tokens: 90, requests: -1 } }])).toBe("a");
    expect(mostHeadroom([{ pool: "a", headroom: { tokens: Infinity, requests: 2 } }, { pool: "b", headroom: { tokens: Infinity, requests: 3 } }])).toBe("b");
    const tie = [
      { pool: "a", headroom: { tokens: 5, requests: 5 } },
      { pool: "b", headroom: { tokens: 5, requests: 5 } },
    ];
    expect([mostHeadroom(tie, 0), mostHeadroom(tie, 1)]).toEqual(["a", "b"]);
    expect(mostHeadroom([])).toBeUndefined();
  });

  it("routes each call to the pool with the most headroom, and its report to that pool only", async () => {
    const east = pool("us-east-1", { tokens: 1_000, requests: 10 });
    const west = pool("us-west-2", { tokens: 5_000, requests: 10 });
    const limiter = new PooledLimiter({ pools: [east, west], allowed: () => true, clock: manualClock() }, silentLogger());
    const c = call();
    expect(await routeOf(limiter, c)).toBe("us-west-2");
    limiter.report(c, { outcome: "throttled" });
    expect(west.limiter.reports).toEqual([{ outcome: "throttled" }]);
    expect(east.limiter.reports).toEqual([]);
    west.limiter.room = { tokens: 500, requests: 10 };
    expect(await routeOf(limiter)).toBe("us-east-1");
  });

  it("counts calls routed but not started, so calls routed together spread over equal pools", async () => {
    const a = pool("us-east-1", { tokens: 1_000, requests: 10 });
    const b = pool("us-west-2", { tokens: 1_000, requests: 10 });
    const hold: (() => void)[] = [];
    // Each pool holds its tasks back, as a lane waiting for its window would.
    for (const p of [a, b]) p.limiter.schedule = <T>(c: ModelCall, task: () => Promise<T>) => new Promise<T>((resolve) => hold.push(() => void task().then(resolve)));
    const limiter = new PooledLimiter({ pools: [a, b], allowed: () => true, clock: manualClock() }, silentLogger());
    const routed = [1, 2, 3, 4].map(() => routeOf(limiter, call(400)));
    await expect.poll(() => hold.length).toBe(4);
    for (const release of hold) release();
    const regions = await Promise.all(routed);
    expect(regions.filter((r) => r === "us-east-1")).toHaveLength(2);
    expect(regions.filter((r) => r === "us-west-2")).toHaveLength(2);
  });

  it("uses only the pools the model may use (residency, the pool's own model), with the pool's model id", async () => {
    const home = pool("us-east-1", { tokens: 10, requests: 1 });
    const abroad = pool("eu-west-1", { tokens: 1e9, requests: 1e9 });
    const own: Pool & { limiter: FakePoolLimiter } = { ...pool("own", { tokens: 1e6, requests: 1e6 }, "us-west-2"), model: "other", modelId: "arn:aws:bedrock:us-west-2:1:application-inference-profile/x" };
    const limiter = new PooledLimiter({ pools: [home, abroad, own], allowed: (p, m) => p.region.startsWith("us-") && (p.model === undefined || p.model === m), clock: manualClock() }, silentLogger());
    expect(await routeOf(limiter)).toBe("us-east-1");
    expect(await limiter.schedule({ model: "other", tokens: 1 }, () => Promise.resolve(currentRoute()))).toMatchObject({ poolId: "own", modelId: own.modelId });
    const nowhere = new PooledLimiter({ pools: [abroad], allowed: () => false, clock: manualClock() }, silentLogger());
    expect(await rejection(routeOf(nowhere))).toMatchObject({ code: "MODEL_REJECTED_REQUEST" });
  });

  it("takes a failed pool out for its cool-down, the others carrying the calls, then brings it back", async () => {
    const clock = manualClock();
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
    const east = pool("us-east-1", { tokens: 9_000, requests: 10 });
    const west = pool("us-west-2", { tokens: 1_000, requests: 10 });
    const limiter = new PooledLimiter({ pools: [east, west], allowed: () => true, clock, cooldownMs: 30_000 }, logger);
    await limiter.schedule(call(), () => {
      const route = currentRoute()!;
      route.takeOut("endpoint unavailable (ServiceUnavailableException)");
      route.takeOut("endpoint unavailable (ServiceUnavailableException)");
      return Promise.resolve();
    });
    expect(limiter.availability()).toEqual({ "us-east-1": false, "us-west-2": true });
    expect(lines.filter((l) => l.includes("taken out of service"))).toHaveLength(1);
    expect(await routeOf(limiter)).toBe("us-west-2");
    expect(await routeOf(limiter)).toBe("us-west-2");
    west.limiter.full = true;
    expect(limiter.canStart([MODEL])).toBe(false);
    clock.advance(30_001);
    expect(limiter.canStart([MODEL])).toBe(true);
    expect(await routeOf(limiter)).toBe("us-east-1");
    expect(limiter.availability()).toEqual({ "us-east-1": true, "us-west-2": true });
    expect(lines.some((l) => l.includes("back in service"))).toBe(true);
  });

  it("fails a call as unavailable while every pool is out, and as quota-exhausted while every pool is paused", async () => {
    const clock = manualClock();
    const a = pool("us-east-1", { tokens: 200, requests: 1 });
    const b = pool("us-west-2", { tokens: 150, requests: 1 });
    const limiter = new PooledLimiter({ pools: [a, b], allowed: () => true, clock }, silentLogger());
    const spent: CallFeedback = { outcome: "quota-exhausted", resetsAt: clock.now() + 5_000 };
    const c = call();
    expect(await routeOf(limiter, c)).toBe("us-east-1");
    limiter.report(c, spent);
    expect(limiter.pausedUntil(MODEL)).toBeUndefined();
    expect(await routeOf(limiter, c)).toBe("us-west-2");
    limiter.report(c, { ...spent, resetsAt: clock.now() + 9_000 });
    expect(limiter.pausedUntil(MODEL)).toBe(clock.now() + 5_000);
    const exhausted = await rejection(routeOf(limiter));
    expect(exhausted).toBeInstanceOf(ModelCallError);
    expect(exhausted).toMatchObject({ code: "MODEL_QUOTA_EXHAUSTED", resetsAt: clock.now() + 5_000 });
    a.limiter.paused.clear();
    b.limiter.paused.clear();
    for (const p of ["a", "b"]) {
      await limiter.schedule(call(), () => {
        currentRoute()!.takeOut(`down ${p}`);
        return Promise.resolve();
      });
    }
    expect(await rejection(routeOf(limiter))).toMatchObject({ code: "MODEL_UNAVAILABLE" });
  });
});

describe("the pooled provider", () => {
  const request: ModelRequest = { modelId: "us.meta.llama3-3-70b-instruct-v1:0", system: "s", user: "u", inference: { maxTokens: 10 }, format: "json" };

  it("takes a pool out for an endpoint that is down or refuses access, not for a throttle or load shedding", () => {
    expect(poolFailure({ name: "ServiceUnavailableException", message: "Service unavailable" })).toMatch(/endpoint unavailable/);
    expect(poolFailure({ name: "ServiceUnavailableException", message: "Too many connections, please wait" })).toBeUndefined();
    expect(poolFailure({ name: "AccessDeniedException", message: "no access" })).toMatch(/access refused/);
    expect(poolFailure(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toMatch(/endpoint unreachable/);
    expect(poolFailure({ name: "ThrottlingException", message: "Too many requests" })).toBeUndefined();
    expect(poolFailure({ name: "ModelTimeoutException", message: "slow" })).toBeUndefined();
  });

  it("calls the client of the route's Region with the pool's model id, and reports a pool failure to its route", async () => {
    const sent: { region: string; modelId: string }[] = [];
    const clientIn = (region: string) =>
      ({
        send: (command: { input: { modelId: string } }) => {
          sent.push({ region, modelId: command.input.modelId });
          if (region === "down-1") return Promise.reject(Object.assign(new Error("Service unavailable"), { name: "ServiceUnavailableException" }));
          return Promise.resolve({ output: { message: { role: "assistant", content: [{ text: "ok" }] } }, stopReason: "end_turn", usage: { inputTokens: 1, outputTokens: 1 } });
        },
      }) as never;
    const provider = new PooledBedrockProvider((route) => clientIn(route.region), clientIn("home-1"));
    const up = pool("up", { tokens: 1e6, requests: 1e6 }, "us-west-2");
    const limiter = new PooledLimiter({ pools: [{ ...up, model: MODEL, modelId: "pool-model" }], allowed: () => true, clock: manualClock() }, silentLogger());
    expect((await limiter.schedule(call(), () => provider.converse(request))).text).toBe("ok");
    expect(sent.at(-1)).toEqual({ region: "us-west-2", modelId: "pool-model" });
    const down = new PooledLimiter({ pools: [pool("down", { tokens: 1e6, requests: 1e6 }, "down-1")], allowed: () => true, clock: manualClock() }, silentLogger());
    const error = await rejection(down.schedule(call(), () => provider.converse(request)));
    expect(error).toMatchObject({ code: "MODEL_UNAVAILABLE" });
    expect(down.availability()).toEqual({ down: false });
    await provider.converse(request);
    expect(sent.at(-1)).toEqual({ region: "home-1", modelId: request.modelId });
  });
});
