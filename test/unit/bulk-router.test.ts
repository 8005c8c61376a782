import { describe, expect, it } from "vitest";
import { BulkRouter } from "../../src/bulk/bulk-router.ts";
import type { LabelRequest } from "../../src/contracts/request.ts";
import { Metrics } from "../../src/observability/metrics.ts";
import { PromptRegistry } from "../../src/prompts/prompt-registry.ts";
import { BULK_SETTINGS, FakeBulkStore } from "../support/bulk-fakes.ts";
import { PROMPTS_DIR, silentLogger } from "../support/fakes.ts";

const settings = BULK_SETTINGS;

const request: LabelRequest = { schemaVersion: 1, batchId: "b1", mode: "bulk", items: [{ id: "t1", text: "the app crashes on start" }] };

describe("BulkRouter", () => {
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
});
