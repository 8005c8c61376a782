import { describe, expect, it } from "vitest";
import { bulkCacheEntries } from "../../src/app/bulk/bulk-result.ts";
import { labelBatch, resolveModel, type LabelBatchSettings } from "../../src/core/classify/label-batch.ts";
import { resolveInference } from "../../src/core/models/sampling.ts";
import { PromptRegistry } from "../../src/core/prompts/prompt-registry.ts";
import { FakeLabelCache, FakeModelProvider, PROMPTS_DIR, PassThroughLimiter, silentLogger, validCompactLabels } from "../support/fakes.ts";

const settings: LabelBatchSettings = {
  defaultTaxonomy: "product-feedback",
  defaultPromptVersion: "prod",
  defaultModel: "llama3.3-70b",
  allowedModels: [],
  chunkSize: 50,
  maxReaskRounds: 0,
  cacheTtlDays: 7,
};

describe("the live and the bulk path write the same cache entries for the same labels", () => {
  it("keys, labels with their definition hashes, model, prompt version and expiry match entry for entry", async () => {
    const prompts = new PromptRegistry(PROMPTS_DIR);
    const prompt = await prompts.resolve("product-feedback", "prod");
    const request = { schemaVersion: 1 as const, batchId: "b-1", items: [{ id: "a", text: "Great kettle." }, { id: "b", text: "Lid broke." }] };
    const now = Date.parse("2026-11-25T12:00:00.000Z");
    const cache = new FakeLabelCache();
    const provider = new FakeModelProvider({ labeller: (text) => validCompactLabels(prompt.taxonomy, text) });
    const result = await labelBatch(request, new Date(now), settings, { provider, limiter: new PassThroughLimiter(), logger: silentLogger(), prompts, cache, now: () => now });
    expect(result.status).toBe("completed");

    const live = [...cache.entries.values()];
    const model = resolveModel(settings.defaultModel, settings);
    const expiresAt = live[0]!.expiresAt;
    const bulk = bulkCacheEntries(request, "product-feedback", result.items, prompt, model, resolveInference(prompt, model, undefined), expiresAt);
    expect(live).toHaveLength(2);
    expect(bulk).toEqual(live);
    expect(expiresAt).toBe(Math.floor(now / 1000) + 7 * 86_400);
  });
});
