import { afterEach, describe, expect, it } from "vitest";
import { makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";
import { quotaEnv } from "../support/quota-load.ts";
import { startStsServer, type StsServer } from "../support/sts-server.ts";

// A quota pool in another account: the pool's Bedrock client signs with credentials from
// sts:AssumeRole on the pool's roleArn. A local STS answers AssumeRole with an access key the
// Bedrock emulator maps to account 222222222222; the worker's own account has a daily token
// quota of 1, so every call signed with the worker's own key is throttled and only calls under
// the assumed role can complete.

const ROLE = "arn:aws:iam::222222222222:role/labelq-pool";
const ROLE_KEY = "ASIAOTHERACCOUNT";

let pipeline: Pipeline | undefined;
let sts: StsServer | undefined;
afterEach(async () => {
  await pipeline?.close();
  await sts?.close();
  pipeline = undefined;
  sts = undefined;
});

describe("a quota pool with a roleArn", () => {
  it("calls Bedrock with the assumed role's credentials, against the other account's quota", async () => {
    sts = await startStsServer({ [ROLE]: ROLE_KEY });
    pipeline = await startPipeline({
      emulator: {
        accounts: { [ROLE_KEY]: "222222222222" },
        quota: { rpm: 600, tpm: 10_000_000, tpd: 1, byAccount: { "222222222222": { tpd: 100_000_000 } } },
        latency: { fixedMs: 5, perOutputTokenMs: 0 },
      },
      env: quotaEnv({
        AWS_REGION: "us-east-1",
        LABELQ_QUOTA_RPM: "600",
        LABELQ_POOLS: JSON.stringify([{ id: "other", region: "us-east-1", roleArn: ROLE }]),
        AWS_ENDPOINT_URL_STS: sts.url,
        LABELQ_MODEL_MAX_ATTEMPTS: "1",
      }),
    });
    pipeline.startWorker();
    const batches = 4;
    for (let i = 0; i < batches; i++) await pipeline.send(makeRequest(2));
    const results = await pipeline.results(batches);
    expect(results.map((r) => r.status)).toEqual(Array(batches).fill("completed"));
    const stats = pipeline.emulator.stats();
    expect(stats.throttled).toBe(0);
    expect(stats.succeeded).toBeGreaterThanOrEqual(batches);
    // One session for the pool, named for it; the provider reuses the credentials until they near expiry.
    expect(sts.calls.length).toBeGreaterThanOrEqual(1);
    expect(sts.calls[0]).toEqual({ roleArn: ROLE, sessionName: "labelq-other" });
  });
});
