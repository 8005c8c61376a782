import { describe, expect, it } from "vitest";
import type { LabelValue } from "../../src/core/contracts/result.ts";
import type { GoldItem } from "../../src/app/eval/gold-set.ts";
import { runAgreement } from "../../src/app/eval/run-agreement.ts";
import { type RunLabels, scoreDelta, scoreRun } from "../../src/app/eval/score-run.ts";
import { selfConsistency } from "../../src/app/eval/self-consistency.ts";
import { parseTaxonomy } from "../../src/core/taxonomy/load-taxonomy.ts";
import { miniTaxonomyJson } from "../support/fakes.ts";

const mini = parseTaxonomy(JSON.stringify(miniTaxonomyJson()), "mini");

function gold(...labels: Record<string, LabelValue>[]): GoldItem[] {
  return labels.map((l, k) => ({ id: `g${k + 1}`, text: `text ${k + 1}`, labels: l, tags: [] }));
}

function run(...labels: (Record<string, LabelValue> | null)[]): RunLabels {
  return new Map(labels.map((l, k) => [`g${k + 1}`, l]));
}

describe("scoreRun", () => {
  // Four texts; the gold set labels sentiment on all, sarcasm on three, quality on two.
  const g = gold(
    { sentiment: "positive", sarcasm: false, quality: 4 },
    { sentiment: "positive", sarcasm: true, quality: null },
    { sentiment: "negative", sarcasm: true },
    { sentiment: "neutral" },
  );

  it("scores each dimension on the texts both sides labelled, with support and coverage", () => {
    // Text 4 has an item error: it counts in support, not in coverage.
    const r = run(
      { sentiment: "positive", sarcasm: false, quality: 4, topics: [] },
      { sentiment: "negative", sarcasm: true, quality: 2, topics: [] },
      { sentiment: "negative", sarcasm: false, quality: 3, topics: [] },
      null,
    );
    const score = scoreRun(mini, g, r, { resamples: 200 });
    expect(score.texts).toBe(4);
    expect(score.labelledTexts).toBe(3);
    // Only dimensions the gold set labels are scored.
    expect(score.dimensions.map((d) => d.key)).toEqual(["sentiment", "quality", "sarcasm"]);

    const sentiment = score.dimensions[0]!;
    expect(sentiment).toMatchObject({ support: 4, covered: 3, coverage: 0.75, headlineMetric: "accuracy" });
    // positive/positive, positive/negative, negative/negative: 2 of 3.
    expect(sentiment.headline).toBeCloseTo(2 / 3, 12);
    expect(sentiment.metrics).toMatchObject({ kind: "single", confusions: [{ gold: "positive", predicted: "negative", count: 1 }] });

    const quality = score.dimensions[1]!;
    // Pairs (4,4) and (null,2): one exact match, one null disagreement; kappa on the one numeric pair is undefined.
    expect(quality).toMatchObject({ support: 2, covered: 2, headline: null });
    expect(quality.metrics).toMatchObject({ kind: "scale", accuracy: 0.5, nullAgreement: 0.5, numericPairs: 1, meanAbsoluteError: 0 });

    const sarcasm = score.dimensions[2]!;
    // gold F T T, predicted F T F: tp 1, fn 1, fp 0 -> P 1, R 1/2, F1 2/3
    expect(sarcasm.headline).toBeCloseTo(2 / 3, 12);
    expect(sarcasm.metrics).toMatchObject({ kind: "boolean", precision: 1, recall: 0.5, positives: 2 });

    // Overall: mean of the defined headlines (2/3 and 2/3); quality's is undefined.
    expect(score.overall.value).toBeCloseTo(2 / 3, 12);
  });

  it("gives a perfect run headlines of 1 and intervals that collapse onto 1", () => {
    const perfect = run(...g.map((x) => x.labels));
    const score = scoreRun(mini, g, perfect, { resamples: 200 });
    const sentiment = score.dimensions.find((d) => d.key === "sentiment")!;
    expect(sentiment.headline).toBe(1);
    expect(sentiment.interval).toEqual({ low: 1, high: 1 });
    expect(score.overall.value).toBe(1);
  });

  it("leaves a multi-choice dimension with no label on either side out of overall, in the point and in the interval alike", () => {
    // topics: nobody gave a topic on any text. Micro-F1 is undefined there, not 0.
    const gm = gold(
      { sentiment: "positive", topics: [] },
      { sentiment: "negative", topics: [] },
      { sentiment: "neutral", topics: [] },
      { sentiment: "positive", topics: [] },
    );
    const rm = run(
      { sentiment: "positive", topics: [] },
      { sentiment: "negative", topics: [] },
      { sentiment: "positive", topics: [] },
      { sentiment: "positive", topics: [] },
    );
    const score = scoreRun(mini, gm, rm, { resamples: 400, seed: 3 });
    const topics = score.dimensions.find((d) => d.key === "topics")!;
    expect(topics).toMatchObject({ headline: null, scoredTexts: 0, interval: null });
    expect(topics.metrics).toMatchObject({ kind: "multi", microF1: null, meanJaccard: 1, noLabelTexts: 4 });
    // Overall is sentiment's 3/4 alone; with a 0 for topics it would have been 3/8.
    expect(score.overall.value).toBe(0.75);
    expect(score.overall.interval!.low).toBeLessThanOrEqual(0.75);
    expect(score.overall.interval!.high).toBeGreaterThanOrEqual(0.75);
  });

  it("leaves a dimension the run covered on no text out of overall, as the bootstrap does", () => {
    // The run answered topics on no text (the key is missing): no pairs at all.
    const gm = gold({ sentiment: "positive", topics: ["price"] }, { sentiment: "negative", topics: ["quality"] }, { sentiment: "neutral", topics: [] });
    const rm = run({ sentiment: "positive" }, { sentiment: "negative" }, { sentiment: "neutral" });
    const score = scoreRun(mini, gm, rm, { resamples: 200 });
    expect(score.dimensions.find((d) => d.key === "topics")).toMatchObject({ headline: null, covered: 0, coverage: 0 });
    expect(score.overall.value).toBe(1);
    expect(score.overall.interval).toEqual({ low: 1, high: 1 });
  });

  it("gives the run's coverage as texts with valid labels over texts asked", () => {
    const gm = gold({ sentiment: "positive" }, { sentiment: "negative" }, { sentiment: "neutral" }, { sentiment: "mixed" });
    const score = scoreRun(mini, gm, run({ sentiment: "positive" }, null, null, null), { resamples: 100 });
    expect(score).toMatchObject({ texts: 4, labelledTexts: 1, coverage: 0.25 });
    // One text, labelled right: a perfect score on a quarter of the texts.
    expect(score.overall.value).toBe(1);
  });

  it("scores multi-choice dimensions by micro-F1", () => {
    const gm = gold({ topics: ["price", "quality"] }, { topics: ["delivery"] }, { topics: [] });
    const rm = run({ topics: ["price"] }, { topics: ["delivery", "quality"] }, { topics: [] });
    const topics = scoreRun(mini, gm, rm, { resamples: 100 }).dimensions[0]!;
    // tp 2, fp 1, fn 1 -> micro-F1 2/3; Jaccard 1/2, 1/2, 1 -> 2/3
    expect(topics.headline).toBeCloseTo(2 / 3, 12);
    expect(topics.metrics).toMatchObject({ kind: "multi", macroF1: 2 / 3 });
  });
});

describe("scoreDelta", () => {
  it("gives the change from baseline to candidate, paired on the same texts", () => {
    const g = gold(...Array.from({ length: 40 }, (_, k) => ({ sentiment: k % 2 === 0 ? "positive" : "negative" })));
    const baseline = run(...g.map((x, k) => ({ sentiment: k < 30 ? x.labels.sentiment! : "neutral" })));
    const candidate = run(...g.map((x) => x.labels));
    const delta = scoreDelta(mini, g, baseline, candidate, { resamples: 500 });
    // 30/40 -> 40/40
    expect(delta.dimensions[0]).toMatchObject({ key: "sentiment", baseline: 0.75, candidate: 1 });
    expect(delta.dimensions[0]!.delta).toBeCloseTo(0.25, 12);
    expect(delta.dimensions[0]!.interval!.low).toBeGreaterThan(0);
    // The same run against itself: no change, an interval of exactly 0.
    expect(scoreDelta(mini, g, candidate, candidate, { resamples: 100 }).overall).toMatchObject({ delta: 0, interval: { low: 0, high: 0 } });
  });
});

describe("runAgreement", () => {
  it("uses kappa, weighted kappa and Jaccard by kind, and lists every flip", () => {
    const ids = ["g1", "g2", "g3", "g4", "g5", "g6"];
    const a = run(
      { sentiment: "positive", quality: 1, topics: ["price"] },
      { sentiment: "positive", quality: 2, topics: [] },
      { sentiment: "negative", quality: 3, topics: ["price", "quality"] },
      { sentiment: "negative", quality: 1, topics: [] },
      { sentiment: "positive", quality: 2, topics: [] },
      { sentiment: "neutral", quality: 3, topics: [] },
    );
    const b = run(
      { sentiment: "positive", quality: 1, topics: ["price"] },
      { sentiment: "negative", quality: 2, topics: [] },
      { sentiment: "negative", quality: 3, topics: ["price"] },
      { sentiment: "negative", quality: 1, topics: [] },
      { sentiment: "positive", quality: 2, topics: [] },
      null,
    );
    const agreement = runAgreement(mini, ids, a, b, { resamples: 100 });
    expect(agreement.sharedTexts).toBe(5);
    const byKey = Object.fromEntries(agreement.dimensions.map((d) => [d.key, d]));
    // sentiment a: p p n n p, b: p n n n p -> the worked example of 8/13 (x = positive, y = negative)
    expect(byKey.sentiment!.metric).toBe("kappa");
    expect(byKey.sentiment!.value).toBeCloseTo(8 / 13, 12);
    expect(byKey.sentiment!.exactAgreement).toBeCloseTo(0.8, 12);
    expect(byKey.quality).toMatchObject({ metric: "weighted kappa", value: 1, exactAgreement: 1 });
    // Jaccard 1, 1 (both empty), 1/2, 1, 1 -> 4.5 / 5
    expect(byKey.topics!.metric).toBe("mean Jaccard");
    expect(byKey.topics!.value).toBeCloseTo(0.9, 12);
    expect(agreement.flips).toEqual([
      { id: "g2", dimension: "sentiment", a: "positive", b: "negative" },
      { id: "g3", dimension: "topics", a: ["price", "quality"], b: ["price"] },
    ]);
  });
});

describe("selfConsistency", () => {
  it("averages pairwise agreement per text and counts texts every run labelled alike", () => {
    const ids = ["g1", "g2"];
    const runs = [
      run({ sentiment: "positive", topics: ["price"] }, { sentiment: "negative", topics: [] }),
      run({ sentiment: "positive", topics: ["price", "quality"] }, { sentiment: "negative", topics: [] }),
      run({ sentiment: "neutral", topics: ["price"] }, { sentiment: "negative", topics: [] }),
    ];
    const byKey = Object.fromEntries(selfConsistency(mini, ids, runs, { resamples: 100 }).map((d) => [d.key, d]));
    // g1: pairs (p,p) (p,n') (p,n') -> 1/3; g2: all agree -> 1. Mean 2/3; stable: 1 of 2.
    expect(byKey.sentiment!.pairwiseAgreement).toBeCloseTo(2 / 3, 12);
    expect(byKey.sentiment!.stable).toBe(0.5);
    // g1 topics: J({p},{p,q}) 1/2, J({p},{p}) 1, J({p,q},{p}) 1/2 -> 2/3; g2: 1. Mean 5/6.
    expect(byKey.topics!.pairwiseAgreement).toBeCloseTo(5 / 6, 12);
  });
});
