import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBedrockEmulator, type BedrockEmulator } from "@labelq/bedrock-emulator";
import { readPoolQuotas } from "../../src/adapters/service-quotas.ts";
import { fillPoolLimits } from "../../src/app/ops/preflight.ts";
import { modelCatalogueFor } from "../../src/app/worker/worker.ts";
import { loadConfig } from "../../src/core/config/config.ts";
import { WorkerStartError } from "../../src/core/errors/errors.ts";
import { makeRequest, startPipeline } from "../support/pipeline.ts";
import { runCli } from "../support/run-cli.ts";
import { startStsServer, type StsServer } from "../support/sts-server.ts";

// A pool's Bedrock quotas read through the real Service Quotas client (endpoint override) from the
// Bedrock emulator, which answers them for the account and Region of each request's signature:
// the worker's own account in us-east-1, and another account through a pool's role (local STS).

const ROLE = "arn:aws:iam::222222222222:role/labelq-pool";
const ROLE_KEY = "ASIAQUOTAACCOUNT";

let emulator: BedrockEmulator;
let sts: StsServer;
beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= "test";
  process.env.AWS_SECRET_ACCESS_KEY ??= "test";
  emulator = await startBedrockEmulator({
    port: 0,
    accounts: { [ROLE_KEY]: "222222222222" },
    quota: { rpm: 120, tpm: 60_000, tpd: 9_000_000, byAccount: { "222222222222": { rpm: 300, tpm: 150_000 } } },
    unavailableRegions: ["eu-west-3"],
  });
  sts = await startStsServer({ [ROLE]: ROLE_KEY });
});
afterAll(async () => {
  await emulator.close();
  await sts.close();
});

function config(extra: Record<string, string>) {
  return loadConfig({
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL_SERVICE_QUOTAS: emulator.url,
    AWS_ENDPOINT_URL_STS: sts.url,
    LABELQ_DEFAULT_MODEL: "nova-lite",
    LABELQ_FALLBACK_MODELS: "none",
    ...extra,
  });
}

describe("Bedrock quotas from Service Quotas", () => {
  it("reads each pool's quotas in its own account: the worker's, and the role's", async () => {
    const c = config({ LABELQ_POOLS: JSON.stringify([{ id: "own", region: "us-east-1", rpm: 50 }, { id: "other", region: "us-east-1", roleArn: ROLE }]) });
    const rows = await readPoolQuotas(c, modelCatalogueFor(c));
    expect(rows.map((r) => [r.pool, r.model, r.modelId])).toEqual([
      ["own", "nova-lite", "us.amazon.nova-lite-v1:0"],
      ["other", "nova-lite", "us.amazon.nova-lite-v1:0"],
    ]);
    expect(rows[0]).toMatchObject({ configured: { rpm: 50 }, account: { rpm: 120, tpm: 60_000, tpd: 9_000_000 } });
    expect(rows[1]).toMatchObject({ configured: {}, account: { rpm: 300, tpm: 150_000, tpd: 9_000_000 } });
    expect(sts.calls.some((call) => call.roleArn === ROLE && call.sessionName === "labelq-other")).toBe(true);
  });

  it("fills the limits a pool has not set, and keeps those it has", async () => {
    const c = config({ LABELQ_POOLS: JSON.stringify([{ id: "own", region: "us-east-1", rpm: 50 }, { id: "other", region: "us-east-1", roleArn: ROLE }]) });
    const filled = await fillPoolLimits(c, () => readPoolQuotas(c, modelCatalogueFor(c)));
    expect(filled.limiter.pools?.map((p) => [p.id, p.rpm, p.tpm])).toEqual([
      ["own", 50, 60_000],
      ["other", 300, 150_000],
    ]);
    // The day's quota too, which the pool's day budget then holds ahead of Bedrock.
    expect(filled.limiter.pools?.map((p) => p.tpd)).toEqual([9_000_000, 9_000_000]);
  });

  it("refuses the start when a pool has no limits set and its quotas cannot be read", async () => {
    const c = config({ LABELQ_POOLS: JSON.stringify([{ id: "down", region: "eu-west-3" }]), LABELQ_MODEL_GEOGRAPHY: "eu" });
    const error = await fillPoolLimits(c, () => readPoolQuotas(c, modelCatalogueFor(c))).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkerStartError);
    expect((error as WorkerStartError).message).toMatch(/^quota pools have no limits set and none could be read from Service Quotas: pool down \(eu-west-3\): ServiceUnavailableException/);
  });

  it("starts a pool on the limit it has when the other cannot be read, saying which it lacks", async () => {
    const c = config({ LABELQ_POOLS: JSON.stringify([{ id: "down", region: "eu-west-3", rpm: 40 }]), LABELQ_MODEL_GEOGRAPHY: "eu" });
    const warnings: string[] = [];
    const filled = await fillPoolLimits(c, () => readPoolQuotas(c, modelCatalogueFor(c)), (m) => warnings.push(m));
    expect(filled.limiter.pools?.map((p) => [p.id, p.rpm, p.tpm])).toEqual([["down", 40, undefined]]);
    expect(warnings).toEqual([expect.stringMatching(/^quota pool down \(eu-west-3\) has no tpm set and none could be read: ServiceUnavailableException/)]);
  });

  it("labelq quotas --json prints the pools' quotas beside the configured limits", async () => {
    const result = await runCli(["quotas", "--json"], {
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_ENDPOINT_URL_SERVICE_QUOTAS: emulator.url,
      LABELQ_DEFAULT_MODEL: "nova-lite",
      LABELQ_FALLBACK_MODELS: "none",
      LABELQ_QUOTA_RPM: "10",
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as { pool: string; configured: { rpm?: number }; account?: { rpm?: number; tpm?: number } }[];
    expect(rows).toEqual([expect.objectContaining({ pool: "us-east-1", configured: { rpm: 10 }, account: { rpm: 120, tpm: 60_000, tpd: 9_000_000 } })]);
    const table = await runCli(["quotas"], { AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_SERVICE_QUOTAS: emulator.url, LABELQ_DEFAULT_MODEL: "nova-lite", LABELQ_FALLBACK_MODELS: "none" });
    expect(table.stdout).toMatch(/us\.amazon\.nova-lite-v1:0.*- \/ 120.*- \/ 60,000/);
  });
});

describe("labelq worker with quota pools and no limits", () => {
  it("refuses to start, in one WORKER_CANNOT_START line, when it can read no quotas", async () => {
    const pipeline = await startPipeline({ emulator: { unavailableRegions: ["us-west-2"] }, env: { LABELQ_FALLBACK_MODELS: "none", LABELQ_CACHE_TABLE: "off" } });
    try {
      await pipeline.send(makeRequest(1));
      const result = await runCli(["worker"], {
        ...pipeline.env,
        LABELQ_POOLS: '[{"id":"west","region":"us-west-2"}]',
        AWS_ENDPOINT_URL_SERVICE_QUOTAS: pipeline.emulator.url,
        LABELQ_QUOTA_RPM: "0",
        LABELQ_QUOTA_TPM: "0",
        LABELQ_HTTP_PORT: "0",
      });
      expect(result.code).not.toBe(0);
      const lines = result.stderr.split("\n").filter((l) => l.includes("WORKER_CANNOT_START"));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/pool west \(us-west-2\): ServiceUnavailableException/);
      // Nothing was taken off the queue.
      expect(await pipeline.messagesOn(pipeline.queues.requests)).toBe(1);
    } finally {
      await pipeline.close();
    }
  });
});
