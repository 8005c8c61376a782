import { describe, expect, it } from "vitest";
import { BulkRouter } from "../../src/app/bulk/bulk-router.ts";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { Metrics } from "../../src/core/observability/metrics.ts";
import { PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { BULK_SETTINGS, FakeBulkStore } from "../support/bulk-fakes.ts";
import { PROMPTS_DIR, silentLogger } from "../support/fakes.ts";

const settings = BULK_SETTINGS;

const request: LabelRequest = { schemaVersion: 1, batchId: "b1", mode: "bulk", items: [{ id: "t1", text: "the app crashes on start" }] };

/** The real prompts, counting every read of a resolved prompt: only pricing a batch (planCall) reads one in the router. */
class CountingPrompts extends PromptRegistry {
  reads = 0;

  override async resolve(taxonomyName: string, versionOrAlias: string): Promise<ResolvedPrompt> {
    const prompt = await super.resolve(taxonomyName, versionOrAlias);
    return new Proxy(prompt, {
      get: (target, key, receiver) => {
        // Awaiting the prompt looks for a `then`: that is not a read of the prompt.
        if (key !== "then") this.reads++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
  }
}

function countingRouter(opts: { quota: { rpm: number; tpm: number }; backlog: number; allowedModels?: string[] }) {
  const prompts = new CountingPrompts(PROMPTS_DIR);
  const router = new BulkRouter({
    store: new FakeBulkStore(),
    prompts,
    settings: { ...settings, allowedModels: opts.allowedModels ?? settings.allowedModels },
    quotaFor: () => opts.quota,
    backlog: () => Promise.resolve(opts.backlog),
    bulkEnabled: true,
    policy: { minBacklogS: 3600, turnaroundS: 21_600, gatherS: 900 },
  });
  return { prompts, route: (r: LabelRequest) => router.route(r, "https://sqs.test/results", `sha256:${r.batchId}`, new Date(), silentLogger()) };
}

describe("BulkRouter", () => {
  it("serves a batch that asks for a service tier live (batch inference has none), refuses one with mode bulk, and one its model lacks", async () => {
    const { route } = countingRouter({ quota: { rpm: 100, tpm: 100_000 }, backlog: 10_000, allowedModels: ["qwen3-32b"] });
    const qwen = { ...request, model: "qwen3-32b", mode: "auto" as const, tier: "flex" as const };
    expect(await route(qwen)).toMatchObject({ kind: "live", reason: "the request asked for the flex service tier, which batch inference does not have" });
    await expect(route({ ...qwen, mode: "bulk" })).rejects.toMatchObject({ code: "TIER_NOT_OFFERED" });
    await expect(route({ ...request, tier: "flex" })).rejects.toMatchObject({ code: "TIER_NOT_OFFERED" });
  });

  it("counts a batch taken into bulk once in labelq_bulk_batches_total{outcome=accepted}, not its redelivery", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const router = new BulkRouter({
      store: new FakeBulkStore(),
      prompts: new PromptRegistry(PROMPTS_DIR),
      settings,
      quotaFor: () => ({ rpm: 100, tpm: 100_000 }),
      backlog: () => Promise.resolve(0),
      bulkEnabled: true,
      policy: { minBacklogS: 3600, turnaroundS: 21_600, gatherS: 900 },
      metrics,
    });
    expect((await router.route(request, "https://sqs.test/results", "sha256:b1", new Date(), silentLogger())).kind).toBe("accepted");
    expect((await router.route(request, "https://sqs.test/results", "sha256:b1", new Date(), silentLogger())).kind).toBe("duplicate");
    const { values } = await metrics.bulkBatches.get();
    expect(values.map((v) => [v.labels.outcome, v.labels.model, v.value])).toEqual([["accepted", "llama3.3-70b", 1]]);
  });

  it("sends a batch with no text it could label to the live path (item errors, no model call), never into a job of zero records", async () => {
    const store = new FakeBulkStore();
    const router = new BulkRouter({
      store,
      prompts: new PromptRegistry(PROMPTS_DIR),
      settings,
      quotaFor: () => ({ rpm: 100, tpm: 100_000 }),
      backlog: () => Promise.resolve(10_000),
      bulkEnabled: true,
      policy: { minBacklogS: 3600, turnaroundS: 21_600, gatherS: 900 },
    });
    const unusable: LabelRequest = { ...request, batchId: "b-empty", items: [{ id: "e1", text: "" }, { id: "e2", text: "   " }] };
    const outcome = await router.route(unusable, "https://sqs.test/results", "sha256:b-empty", new Date(), silentLogger());
    expect(outcome).toEqual({ kind: "live", reason: "no text in the batch can be labelled" });
    expect(await store.findIntake("b-empty")).toBeUndefined();
  });

  it("prices a batch only when the auto policy needs its drain time: not without a quota, not for an empty backlog, not for an explicit mode", async () => {
    const auto: LabelRequest = { ...request, batchId: "auto-1", mode: undefined };
    const noQuota = countingRouter({ quota: { rpm: 0, tpm: 0 }, backlog: 10_000 });
    expect(await noQuota.route(auto)).toMatchObject({ kind: "live", reason: expect.stringContaining("no on-demand quota") as unknown });
    const noBacklog = countingRouter({ quota: { rpm: 100, tpm: 100_000 }, backlog: 0 });
    expect(await noBacklog.route(auto)).toMatchObject({ kind: "live", reason: expect.stringContaining("drains live in ~0 s") as unknown });
    expect(await noBacklog.route({ ...request, batchId: "bulk-1" })).toMatchObject({ kind: "accepted" });
    expect([noQuota.prompts.reads, noBacklog.prompts.reads]).toEqual([0, 0]);

    // The drain time decides here: the batch is priced, and 10,000 waiting texts at a 100,000 tpm quota go to bulk.
    const backlog = countingRouter({ quota: { rpm: 100, tpm: 100_000 }, backlog: 10_000 });
    expect(await backlog.route(auto)).toMatchObject({ kind: "accepted" });
    expect(backlog.prompts.reads).toBeGreaterThan(0);
  });
});
