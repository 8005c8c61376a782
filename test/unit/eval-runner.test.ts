import { beforeAll, describe, expect, it } from "vitest";
import type { EvalCore } from "../../src/app/eval/eval-core.ts";
import type { GoldItem } from "../../src/app/eval/gold-set.ts";
import { labelGoldTexts } from "../../src/app/eval/label-gold-texts.ts";
import { runEvaluation, type EvalOptions } from "../../src/app/eval/run-evaluation.ts";
import { Metrics } from "../../src/core/observability/metrics.ts";
import { forFormat, PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import type { Taxonomy } from "../../src/core/taxonomy/taxonomy-schema.ts";
import { FakeModelProvider, type FakeModelOptions, PassThroughLimiter, PROMPTS_DIR, silentLogger, validCompactLabels } from "../support/fakes.ts";

let prompt: ResolvedPrompt;
let taxonomy: Taxonomy;
let gold: GoldItem[];

beforeAll(async () => {
  // As sent to the default model, which answers in the lines format.
  prompt = forFormat(await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v2"), "lines");
  taxonomy = prompt.taxonomy;
  // Twelve texts whose gold labels are what validCompactLabels answers, decoded to names.
  gold = Array.from({ length: 12 }, (_, k) => {
    const text = `gold text number ${k}`;
    const decoded = prompt.codec.decode(validCompactLabels(taxonomy, text));
    if (!decoded.ok) throw new Error(decoded.issues.join("; "));
    return { id: `t${k}`, text, labels: decoded.labels, tags: [] };
  });
});

/** The compact code of a label name, for a fake that answers a chosen label. */
function codeOf(dimensionKey: string, name: string): string {
  const d = taxonomy.dimensions.find((x) => x.key === dimensionKey)!;
  if (d.kind !== "single") throw new Error("single-choice dimensions only");
  return d.labels.find((l) => l.name === name)!.code;
}

function core(damage?: FakeModelOptions["damage"], labeller?: (text: string) => Record<string, unknown>): EvalCore & { provider: FakeModelProvider } {
  const provider = new FakeModelProvider({ labeller: labeller ?? ((t) => validCompactLabels(taxonomy, t)), damage, usage: { inputTokens: 2000, outputTokens: 500 } });
  const metrics = new Metrics({ defaultMetrics: false });
  return {
    provider,
    metrics,
    settings: { defaultTaxonomy: "product-feedback", defaultPromptVersion: "v2", defaultModel: "llama3.3-70b", allowedModels: ["claude-haiku"], chunkSize: 5, maxReaskRounds: 1 },
    deps: { prompts: new PromptRegistry(PROMPTS_DIR), limiter: new PassThroughLimiter(), provider, logger: silentLogger(), metrics },
    close: () => Promise.resolve(),
  };
}

const spec = { taxonomy: "product-feedback", promptVersion: "v2", model: "llama3.3-70b" };

function options(overrides: Partial<EvalOptions> = {}): EvalOptions {
  return {
    ...spec,
    goldFile: "gold.jsonl",
    batchSize: 10,
    cache: false,
    repeat: 1,
    thresholds: [],
    bootstrap: { resamples: 200, seed: 1 },
    target: { kind: "emulator", description: "fake" },
    ...overrides,
  };
}

describe("labelGoldTexts", () => {
  it("labels every gold text through labelBatch in batches, without the cache, and counts chunks, calls and cost", async () => {
    const c = core();
    const run = await labelGoldTexts(gold, { ...spec, batchSize: 10, cache: false, runId: "r" }, c);
    // Batches of 10 and 2; chunks of 5: 2 + 1 first-round calls.
    expect(run.chunks).toBe(3);
    expect(run.usage.modelCalls).toBe(3);
    expect(c.provider.textsPerCall().map((t) => t.length).sort()).toEqual([2, 5, 5]);
    expect(run.errors).toEqual([]);
    expect(run.labels.get("t3")).toEqual(gold[3]!.labels);
    expect(run.spec.resolvedVersion).toBe("v2");
    expect(run.spec.promptHash).toMatch(/^sha256:/);
    expect(run.usage.inputTokens).toBe(3 * 2000);
  });

  it("records texts the model never labels as errors, and the re-asks made for them", async () => {
    // The model leaves out text 1 of every call: one re-ask round, then an item error.
    const c = core((call) => ({ rewrite: (t, clean) => (t.i === 1 && call.texts.length > 1 ? [] : [clean]) }));
    const run = await labelGoldTexts(gold.slice(0, 5), { ...spec, batchSize: 5, cache: false, runId: "r" }, c);
    // Call 1 (5 texts) misses t0; call 2 re-asks t0 alone and it is answered.
    expect(run.usage.modelCalls).toBe(2);
    expect(run.errors).toEqual([]);
    const c2 = core(() => ({ rewrite: (t, clean) => (t.i === 1 ? [] : [clean]) }));
    const run2 = await labelGoldTexts(gold.slice(0, 5), { ...spec, batchSize: 5, cache: false, runId: "r" }, c2);
    expect(run2.errors.map((e) => [e.id, e.code])).toEqual([["t0", "MISSING_FROM_OUTPUT"]]);
    expect(run2.labels.get("t0")).toBeNull();
  });

  it("stops with the cause when no batch could be labelled at all", async () => {
    await expect(labelGoldTexts(gold, { ...spec, promptVersion: "v99", batchSize: 10, cache: false, runId: "r" }, core())).rejects.toMatchObject({
      code: "PROMPT_VERSION_NOT_FOUND",
    });
  });
});

describe("runEvaluation", () => {
  it("scores a model that answers the gold labels as perfect, with full coverage and no errors", async () => {
    const report = await runEvaluation(taxonomy, gold, options(), core());
    expect(report.run.score.overall.value).toBe(1);
    expect(report.run.score.dimensions.every((d) => d.coverage === 1)).toBe(true);
    expect(report.run.ops).toMatchObject({ texts: 12, labelled: 12, errorRate: 0, reaskCalls: 0 });
    expect(report.passed).toBe(true);
  });

  it("measures a known mistake: sentiment answered 'mixed' for a quarter of the texts", async () => {
    const wrongFor = new Set(gold.filter((g) => g.labels.sentiment_polarity !== "mixed").slice(0, 3).map((g) => g.text));
    const labeller = (text: string) => ({ ...validCompactLabels(taxonomy, text), ...(wrongFor.has(text) ? { sp: codeOf("sentiment_polarity", "mixed") } : {}) });
    const report = await runEvaluation(taxonomy, gold, options({ thresholds: [{ target: "sentiment_polarity", min: 0.9 }] }), core(undefined, labeller));
    const sentiment = report.run.score.dimensions.find((d) => d.key === "sentiment_polarity")!;
    expect(sentiment.headline).toBe(9 / 12);
    expect(report.thresholds).toEqual([
      { target: "sentiment_polarity", min: 0.9, value: 0.75, coverage: 1, texts: 12, passed: false, failures: ["below 0.9", "12 texts < 30"] },
    ]);
    expect(report.passed).toBe(false);
  });

  it("fails --min on a run where most texts got no labels, though the labelled few score perfectly", async () => {
    // The model leaves out every text but the first of each call, every time: 3 of 12 labelled.
    const c = core(() => ({ rewrite: (t, clean) => (t.i === 1 ? [clean] : []) }));
    const gate = { minCoverage: 0.95, minTexts: 1 };
    const report = await runEvaluation(taxonomy, gold, options({ thresholds: [{ target: "overall", min: 0.9 }], gate }), c);
    expect(report.run.score.labelledTexts).toBeLessThan(12);
    expect(report.run.score.overall.value).toBe(1);
    expect(report.coverage).toMatchObject({ asked: 12, passed: false });
    expect(report.thresholds[0]).toMatchObject({ value: 1, passed: false });
    expect(report.thresholds[0]!.failures[0]).toMatch(/^coverage \d+\.\d% < 95\.0%$/);
    expect(report.passed).toBe(false);
  });

  it("gates on coverage alone when asked, and not at all without thresholds", async () => {
    const c = () => core(() => ({ rewrite: (t, clean) => (t.i === 1 ? [clean] : []) }));
    const ungated = await runEvaluation(taxonomy, gold, options(), c());
    expect(ungated).toMatchObject({ coverageGated: false, passed: true, coverage: { passed: false } });
    const gated = await runEvaluation(taxonomy, gold, options({ requireCoverage: true, gate: { minCoverage: 0.95, minTexts: 30 } }), c());
    expect(gated).toMatchObject({ coverageGated: true, passed: false, coverage: { passed: false } });
    // The same gate on a run that labels every text passes.
    const full = await runEvaluation(taxonomy, gold, options({ requireCoverage: true, gate: { minCoverage: 0.95, minTexts: 30 } }), core());
    expect(full).toMatchObject({ coverageGated: true, passed: true, coverage: { asked: 12, labelled: 12, coverage: 1 } });
  });

  it("compares with another prompt version and repeats runs for self-consistency", async () => {
    const c = core();
    const report = await runEvaluation(taxonomy, gold, options({ against: "v1", repeat: 3 }), c);
    // 3 runs of v2 + 1 of v1, 3 calls each.
    expect(c.provider.calls.length).toBe(12);
    expect(c.provider.calls.filter((call) => call.request.system === prompt.system).length).toBe(9);
    expect(report.against).toMatchObject({ kind: "prompt", label: "v1", run: { spec: { resolvedVersion: "v1" } }, agreement: { sharedTexts: 12, flips: [] } });
    expect(report.against!.delta!.overall.delta).toBe(0);
    expect(report.consistency!.runs).toBe(3);
    expect(report.consistency!.dimensions.every((d) => d.pairwiseAgreement === 1 && d.stable === 1)).toBe(true);
  });
});
