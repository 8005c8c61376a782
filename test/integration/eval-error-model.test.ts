import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAwsClients } from "../../src/adapters/aws-clients.ts";
import { loadConfig } from "../../src/core/config/config.ts";
import { createEvalCore, type EvalCore } from "../../src/app/eval/eval-core.ts";
import { type GoldItem, loadGoldSet } from "../../src/app/eval/gold-set.ts";
import { labelGoldTexts } from "../../src/app/eval/label-gold-texts.ts";
import { scoreRun } from "../../src/app/eval/score-run.ts";
import { type BedrockEmulator, startBedrockEmulator } from "@labelq/bedrock-emulator";
import { PromptRegistry } from "../../src/core/prompts/prompt-registry.ts";
import type { Taxonomy } from "../../src/core/taxonomy/taxonomy-schema.ts";
import { PROMPTS_DIR, REPO_ROOT, silentLogger } from "../support/fakes.ts";

// Does `labelq eval` measure what is wrong? The emulator (a test double) is not a model, so
// its own clean answers serve as the gold labels, and its error model makes them wrong at
// known rates: a single-choice or yes/no label flips with probability P, a scale point moves
// one step with probability Q. Each decision is a fixed hash of the text, so the run is
// repeatable. Two checks: eval's numbers equal the damage actually done (counted here by
// comparing the two runs' labels directly), and they sit where the injected rates say, within
// eval's intervals for each dimension and within binomial error when pooled.
const P = 0.25;
const Q = 0.4;

describe("eval measures an injected error rate through the emulator", () => {
  let emulator: BedrockEmulator;
  let core: EvalCore;
  let clients: ReturnType<typeof createAwsClients>;
  let taxonomy: Taxonomy;
  let texts: GoldItem[];
  const spec = { taxonomy: "product-feedback", promptVersion: "v2", model: "llama3.3-70b", batchSize: 50, cache: false };

  beforeAll(async () => {
    emulator = await startBedrockEmulator({ port: 0 });
    process.env.AWS_ACCESS_KEY_ID ??= "test";
    process.env.AWS_SECRET_ACCESS_KEY ??= "test";
    const config = loadConfig({ AWS_ENDPOINT_URL_BEDROCK_RUNTIME: emulator.url, LABELQ_CACHE_TABLE: "off", LABELQ_BATCHES_TABLE: "off", LABELQ_FALLBACK_MODELS: "none", LOG_LEVEL: "silent" });
    clients = createAwsClients(config);
    core = createEvalCore(config, clients, silentLogger(), { cache: false });
    taxonomy = (await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v2")).taxonomy;
    texts = await loadGoldSet(path.join(REPO_ROOT, "eval", "gold", "product-feedback.jsonl"), taxonomy);
  });

  afterAll(async () => {
    await core?.close();
    clients?.destroy();
    await emulator?.close();
  });

  it("scores the clean answers as perfect and the damaged ones at the injected rates, within the intervals", async () => {
    const clean = await labelGoldTexts(texts, { ...spec, runId: "clean" }, core);
    expect(clean.errors).toEqual([]);
    const gold = texts.map((t) => ({ ...t, labels: clean.labels.get(t.id)! }));
    expect(scoreRun(taxonomy, gold, clean.labels, { resamples: 200 }).overall.value).toBe(1);

    emulator.setLabelErrors({ flip: P, drift: Q });
    const damaged = await labelGoldTexts(texts, { ...spec, runId: "damaged" }, core);
    expect(damaged.errors).toEqual([]);
    const score = scoreRun(taxonomy, gold, damaged.labels);
    const n = texts.length;

    // Single choice: accuracy is 1 - P; each dimension's 95 % interval should hold it (about 1 in
    // 20 may not), and the pooled rate over all of them is much tighter.
    const single = score.dimensions.filter((d) => d.kind === "single");
    const covering = single.filter((d) => d.interval!.low <= 1 - P && 1 - P <= d.interval!.high);
    expect(covering.length / single.length).toBeGreaterThanOrEqual(0.8);
    const pooled = single.reduce((s, d) => s + d.headline!, 0) / single.length;
    expect(Math.abs(pooled - (1 - P))).toBeLessThan(4 * Math.sqrt((P * (1 - P)) / (n * single.length)));

    // Yes/no: the same flips, read as accuracy.
    const yesNo = score.dimensions.flatMap((d) => (d.metrics.kind === "boolean" ? [d.metrics.accuracy!] : []));
    const pooledYesNo = yesNo.reduce((s, x) => s + x, 0) / yesNo.length;
    expect(Math.abs(pooledYesNo - (1 - P))).toBeLessThan(4 * Math.sqrt((P * (1 - P)) / (n * yesNo.length)));

    // Exactly the damage done: a dimension's accuracy is the share of texts whose label did not change.
    const unchanged = (key: string) => texts.filter((t) => JSON.stringify(clean.labels.get(t.id)![key]) === JSON.stringify(damaged.labels.get(t.id)![key])).length / n;
    for (const d of single) expect(d.headline).toBeCloseTo(unchanged(d.key), 12);

    // Scales: every drift is one step, so the mean absolute error over numeric pairs is the share
    // that drifted, pooled near Q (4 standard errors: the texts' hashes decide, not chance per run);
    // the quadratic kappa drops below 1 but stays high (near misses cost little).
    const scales = score.dimensions.flatMap((d) => (d.metrics.kind === "scale" ? [{ key: d.key, mae: d.metrics.meanAbsoluteError!, pairs: d.metrics.numericPairs, kappa: d.headline! }] : []));
    for (const s of scales) expect(s.mae).toBeCloseTo(1 - (unchanged(s.key) * n - (n - s.pairs)) / s.pairs, 12);
    const pairs = scales.reduce((s, x) => s + x.pairs, 0);
    const pooledMae = scales.reduce((s, x) => s + x.mae * x.pairs, 0) / pairs;
    expect(Math.abs(pooledMae - Q)).toBeLessThan(4 * Math.sqrt((Q * (1 - Q)) / pairs));
    for (const s of scales) {
      expect(s.kappa).toBeLessThan(1);
      expect(s.kappa).toBeGreaterThan(0.4);
    }

    // Multi choice: one label added or removed on about P of the texts.
    const topics = score.dimensions.find((d) => d.key === "topics")!;
    expect(topics.metrics.kind === "multi" && topics.metrics.meanJaccard).toBeLessThan(1);
    expect(topics.headline).toBeGreaterThan(0.7);
  });
});
