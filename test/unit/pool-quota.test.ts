import { describe, expect, it } from "vitest";
import { createPooledLimiter } from "../../src/adapters/limiter/pool-setup.ts";
import { BEDROCK_WINDOW } from "../../src/adapters/limiter/quota-window.ts";
import { loadConfig } from "../../src/core/config/config.ts";
import { loadModelCatalogue } from "../../src/core/models/model-catalogue.ts";
import { drainQuota, poolQuota, poolRefusal, withAccountDays } from "../../src/core/quota/pool-quota.ts";
import { silentLogger } from "../support/fakes.ts";

// The bulk router's drain estimate and the limiter's lanes read one source (core/quota/pool-quota.ts).

const MODEL = "llama3.3-70b";
const catalogue = loadModelCatalogue({ geography: "us", residency: "geography", region: "us-east-1" });
const POOLS = JSON.stringify([
  { region: "us-east-1", rpm: 200, tpm: 100_000, tpd: 5_000_000 },
  { region: "us-west-2", tpm: 50_000 },
  // Kept out by LABELQ_RESIDENCY=geography: the us profile is not called from eu Regions.
  { region: "eu-west-1", rpm: 9_000, tpm: 900_000 },
  // Serves another model only.
  { id: "nova", region: "us-east-2", model: "nova-lite", rpm: 7_000, tpm: 700_000 },
]);

describe("the quota that drains a model's backlog", () => {
  it("without pools is LABELQ_QUOTAS over LABELQ_QUOTA_*", () => {
    const config = loadConfig({ AWS_REGION: "us-east-1", LABELQ_QUOTA_RPM: "10", LABELQ_QUOTA_TPM: "1000", LABELQ_QUOTAS: `{"${MODEL}":{"tpm":2000}}` });
    expect(drainQuota(config, catalogue, MODEL)).toEqual({ rpm: 10, tpm: 2000 });
    expect(drainQuota(config, catalogue, "nova-lite")).toEqual({ rpm: 10, tpm: 1000 });
  });

  it("with LABELQ_POOLS is the sum over the pools the model and the residency allow, each with its own limits", () => {
    const config = loadConfig({ AWS_REGION: "us-east-1", LABELQ_RESIDENCY: "geography", LABELQ_QUOTA_RPM: "100", LABELQ_POOLS: POOLS });
    // us-east-1: 200 rpm / 100k tpm; us-west-2: 100 rpm (LABELQ_QUOTA_RPM) / 50k tpm; eu-west-1 and nova are not counted.
    expect(drainQuota(config, catalogue, MODEL)).toEqual({ rpm: 300, tpm: 150_000 });
    expect(drainQuota(config, catalogue, "nova-lite")).toEqual({ rpm: 7_300, tpm: 850_000 });
    expect(poolRefusal(config.limiter.pools![2]!, MODEL, catalogue, config.region)).toMatch(/eu-west-1 is in eu/);
    expect(poolRefusal(config.limiter.pools![3]!, MODEL, catalogue, config.region)).toBe("serves nova-lite only");
  });

  it("has no limit of a kind when one pool that carries the model has none, and none when no pool may carry it", () => {
    const config = loadConfig({ AWS_REGION: "us-east-1", LABELQ_RESIDENCY: "region", LABELQ_POOLS: '[{"region":"us-east-1","rpm":50},{"region":"us-west-2","rpm":60,"tpm":1000}]' });
    const regional = loadModelCatalogue({ geography: "us", residency: "region", region: "us-east-1" });
    // Residency "region": us-west-2 is out; us-east-1 has no tpm set anywhere (0 = no limit).
    expect(drainQuota(config, regional, "nova-lite")).toEqual({ rpm: 50, tpm: 0 });
    const elsewhere = loadConfig({ AWS_REGION: "us-east-1", LABELQ_RESIDENCY: "region", LABELQ_POOLS: '[{"region":"us-west-2","rpm":60,"tpm":1000}]' });
    expect(drainQuota(elsewhere, regional, "nova-lite")).toEqual({ rpm: 0, tpm: 0 });
  });

  it("is what the pooled limiter's lanes hold, summed: the two read one source", async () => {
    const config = loadConfig({ AWS_REGION: "us-east-1", LABELQ_RESIDENCY: "geography", LABELQ_QUOTA_RPM: "100", LABELQ_POOLS: POOLS });
    const limiter = createPooledLimiter(config, config.limiter.pools!, catalogue, { maxConcurrent: 4, minTimeMs: 0, localShare: 1, timing: BEDROCK_WINDOW }, silentLogger());
    try {
      const call = { model: MODEL, tokens: 1 };
      const rooms = await Promise.all(limiter.poolsFor(MODEL).map((p) => p.limiter.headroom(call)));
      // An empty lane's headroom is its quota less the call's one token and one request.
      const lanes = { rpm: rooms.reduce((n, r) => n + r.requests + 1, 0), tpm: rooms.reduce((n, r) => n + r.tokens + 1, 0) };
      expect(lanes).toEqual(drainQuota(config, catalogue, MODEL));
      expect(poolQuota(config.limiter, config.limiter.pools![0]!, MODEL)).toEqual({ rpm: 200, tpm: 100_000, tpd: 5_000_000 });
    } finally {
      await limiter.close();
    }
  });
});

describe("a pool's tpd from the account", () => {
  it("fills an unset tpd with the lowest daily quota among the pool's models, and keeps a typed-in one", () => {
    const pools = [{ id: "a" }, { id: "b", tpd: 7 }, { id: "c" }];
    const rows = [
      { pool: "a", account: { tpd: 900 } },
      { pool: "a", account: { tpd: 400 } },
      { pool: "a", account: {} },
      { pool: "b", account: { tpd: 100 } },
      { pool: "c" },
    ];
    expect(withAccountDays(pools, rows)).toEqual([{ id: "a", tpd: 400 }, { id: "b", tpd: 7 }, { id: "c" }]);
  });
});
