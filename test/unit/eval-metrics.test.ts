import { describe, expect, it } from "vitest";
import { cohenKappa } from "../../src/app/eval/metrics/agreement.ts";
import { bootstrapIntervals, quantile } from "../../src/app/eval/metrics/bootstrap.ts";
import { accuracy, binaryScores, macroF1, perLabelScores, topConfusions } from "../../src/app/eval/metrics/classification.ts";
import { jaccard, multiChoiceScores } from "../../src/app/eval/metrics/multi-choice.ts";
import { meanAbsoluteError, quadraticWeightedKappa } from "../../src/app/eval/metrics/ordinal.ts";

// Every expected number below was worked out by hand; the working is in the comments.

describe("single choice: accuracy, macro-F1, confusions", () => {
  const gold = ["a", "a", "b", "c"];
  const predicted = ["a", "b", "b", "a"];

  it("accuracy is the share of exact matches: 2 of 4", () => {
    expect(accuracy(gold, predicted)).toBe(0.5);
  });

  it("scores each label used as gold or prediction", () => {
    // a: tp 1 (item 1), fp 1 (item 4), fn 1 (item 2) -> P 1/2, R 1/2, F1 1/2
    // b: tp 1 (item 3), fp 1 (item 2), fn 0          -> P 1/2, R 1,   F1 2/3
    // c: tp 0, fp 0, fn 1 (item 4)                    -> P 0,   R 0,   F1 0
    const scores = perLabelScores(gold, predicted, ["a", "b", "c", "d"]);
    expect(scores.map((s) => s.label)).toEqual(["a", "b", "c"]);
    expect(scores[0]).toMatchObject({ precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(scores[1]!.f1).toBeCloseTo(2 / 3, 12);
    expect(scores[2]).toMatchObject({ precision: 0, recall: 0, f1: 0, support: 1 });
    // (1/2 + 2/3 + 0) / 3 = 7/18
    expect(macroF1(scores)).toBeCloseTo(7 / 18, 12);
  });

  it("lists confusions most frequent first", () => {
    expect(topConfusions(["a", "a", "a", "b", "c"], ["b", "b", "c", "a", "c"])).toEqual([
      { gold: "a", predicted: "b", count: 2 },
      { gold: "a", predicted: "c", count: 1 },
      { gold: "b", predicted: "a", count: 1 },
    ]);
  });

  it("has no accuracy and no macro-F1 without pairs", () => {
    expect(accuracy([], [])).toBeNull();
    expect(macroF1(perLabelScores([], []))).toBeNull();
  });
});

describe("ordinal: quadratic-weighted kappa and MAE", () => {
  it("matches the worked example on a 1..3 scale: 9/13", () => {
    // gold [1,2,3,1], predicted [1,3,3,2]; weights (i-j)^2/4.
    // observed: (2,3) and (1,2) weigh 1/4 each -> 0.5 / 4 texts = 0.125
    // gold frequencies [1/2,1/4,1/4], predicted [1/4,1/4,1/2]
    // expected = sum w_ij p_i q_j = 0.28125 + 0.046875 + 0.078125 = 0.40625
    // kappa = 1 - 0.125/0.40625 = 1 - 4/13 = 9/13
    expect(quadraticWeightedKappa([1, 2, 3, 1], [1, 3, 3, 2], 1, 3)).toBeCloseTo(9 / 13, 12);
    expect(meanAbsoluteError([1, 2, 3, 1], [1, 3, 3, 2])).toBe(0.5);
  });

  it("is 1 for perfect agreement and negative for a reversed scale", () => {
    expect(quadraticWeightedKappa([1, 2, 3, 4, 5], [1, 2, 3, 4, 5], 1, 5)).toBe(1);
    // Reversed on 1..3 with uniform frequencies: observed = (1 + 0 + 1)/3 = 2/3;
    // expected = sum over i,j of (i-j)^2/4 /9 = (0+1+4+1+0+1+4+1+0)/36 = 1/3 -> kappa = 1 - 2 = -1
    expect(quadraticWeightedKappa([1, 2, 3], [3, 2, 1], 1, 3)).toBeCloseTo(-1, 12);
  });

  it("weighs a near miss less than a far one", () => {
    const near = quadraticWeightedKappa([1, 2, 3, 4, 5, 3], [1, 2, 3, 4, 5, 4], 1, 5)!;
    const far = quadraticWeightedKappa([1, 2, 3, 4, 5, 3], [1, 2, 3, 4, 5, 5], 1, 5)!;
    expect(near).toBeGreaterThan(far);
  });

  it("is undefined when both sides always give one and the same value, or there are no pairs", () => {
    expect(quadraticWeightedKappa([3, 3], [3, 3], 1, 5)).toBeNull();
    expect(quadraticWeightedKappa([], [], 1, 5)).toBeNull();
    expect(meanAbsoluteError([], [])).toBeNull();
  });
});

describe("multi choice: micro/macro-F1 and Jaccard", () => {
  it("matches the worked example", () => {
    // gold {a,b} {c} {}; predicted {a} {c,d} {}
    // micro: tp 2 (a, c), fp 1 (d), fn 1 (b) -> P 2/3, R 2/3, F1 2/3
    // per label: a 1, b 0, c 1, d 0 -> macro 1/2
    // Jaccard: 1/2, 1/2, and 1 for two empty sets -> mean 2/3
    const s = multiChoiceScores([["a", "b"], ["c"], []], [["a"], ["c", "d"], []]);
    expect(s.microPrecision).toBeCloseTo(2 / 3, 12);
    expect(s.microRecall).toBeCloseTo(2 / 3, 12);
    expect(s.microF1).toBeCloseTo(2 / 3, 12);
    expect(s.macroF1).toBe(0.5);
    expect(s.meanJaccard).toBeCloseTo(2 / 3, 12);
  });

  it("leaves micro-F1 undefined, not 0, where neither side gave a label: multiChoiceScores([[]], [[]])", () => {
    const s = multiChoiceScores([[]], [[]]);
    expect(s.microF1).toBeNull();
    expect(s.microPrecision).toBeNull();
    expect(s.microRecall).toBeNull();
    expect(s.macroF1).toBeNull();
    // Two empty sets agree fully on Jaccard's terms.
    expect(s.meanJaccard).toBe(1);
    expect(s.noLabelTexts).toBe(1);
  });

  it("counts the texts without a label on either side, and scores micro-F1 on the rest only", () => {
    // The worked example's third text {} / {} adds nothing: F1 is 2/3 with or without it.
    const s = multiChoiceScores([["a", "b"], ["c"], [], []], [["a"], ["c", "d"], [], []]);
    expect(s.noLabelTexts).toBe(2);
    expect(s.microF1).toBeCloseTo(2 / 3, 12);
    // Gold has labels but nothing was predicted: a defined 0, not undefined.
    expect(multiChoiceScores([["a"]], [[]])).toMatchObject({ microF1: 0, microRecall: 0, noLabelTexts: 0 });
  });

  it("Jaccard of disjoint sets is 0 and of equal sets 1", () => {
    expect(jaccard(new Set(["a"]), new Set(["b"]))).toBe(0);
    expect(jaccard(new Set(["a", "b"]), new Set(["b", "a"]))).toBe(1);
  });
});

describe("yes/no: precision, recall and F1 of true", () => {
  it("matches the worked example", () => {
    // gold T T F F T, predicted T F T F T: tp 2, fp 1 (item 3), fn 1 (item 2) -> 2/3 each
    const s = binaryScores([true, true, false, false, true], [true, false, true, false, true]);
    expect(s.precision).toBeCloseTo(2 / 3, 12);
    expect(s.recall).toBeCloseTo(2 / 3, 12);
    expect(s.f1).toBeCloseTo(2 / 3, 12);
    expect(s.support).toBe(3);
  });
});

describe("Cohen's kappa between two runs", () => {
  it("matches the worked example: 8/13", () => {
    // a x x y y x, b x y y y x: observed 4/5; chance 3/5*2/5 + 2/5*3/5 = 12/25
    // kappa = (4/5 - 12/25) / (1 - 12/25) = (8/25) / (13/25) = 8/13
    expect(cohenKappa(["x", "x", "y", "y", "x"], ["x", "y", "y", "y", "x"])).toBeCloseTo(8 / 13, 12);
  });

  it("is 1 for full agreement, 0 at chance, undefined when chance is already 1", () => {
    expect(cohenKappa([true, false], [true, false])).toBe(1);
    // observed 1/2; each side half x, half y -> chance 1/2 -> kappa 0
    expect(cohenKappa(["x", "y", "x", "y"], ["x", "x", "y", "y"])).toBe(0);
    expect(cohenKappa(["x", "x"], ["x", "x"])).toBeNull();
  });
});

describe("bootstrap intervals", () => {
  const data = Array.from({ length: 400 }, (_, k) => (k % 10 < 7 ? 1 : 0));
  const meanOf = (idx: readonly number[]) => idx.reduce((s, k) => s + data[k]!, 0) / idx.length;

  it("gives the same interval for the same seed and a different one for another seed", () => {
    const a = bootstrapIntervals(data.length, { m: meanOf }, { seed: 7 });
    const b = bootstrapIntervals(data.length, { m: meanOf }, { seed: 7 });
    const c = bootstrapIntervals(data.length, { m: meanOf }, { seed: 8 });
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
  });

  it("covers the mean of 0.7 with about ±1.96·sqrt(0.21/400) ≈ ±0.045", () => {
    const { m } = bootstrapIntervals(data.length, { m: meanOf }, { seed: 3, resamples: 2_000 });
    expect(m!.low).toBeLessThan(0.7);
    expect(m!.high).toBeGreaterThan(0.7);
    expect(m!.high - m!.low).toBeGreaterThan(0.07);
    expect(m!.high - m!.low).toBeLessThan(0.11);
  });

  it("is null for a statistic undefined on most resamples", () => {
    expect(bootstrapIntervals(10, { never: () => null }).never).toBeNull();
  });

  it("takes linear-interpolated quantiles", () => {
    expect(quantile([1, 2, 3, 4, 5], 0.5)).toBe(3);
    expect(quantile([0, 10], 0.25)).toBe(2.5);
  });
});
