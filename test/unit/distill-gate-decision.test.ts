import { describe, expect, it } from "vitest";
import { decideGate, DEFAULT_MIN_LOWER, formatGateDecision, type GateRule, minLowerByDimension } from "../../src/app/distill/gate-decision.ts";
import type { DimensionScore, RunScore } from "../../src/app/eval/score-run.ts";
import { parseThresholds } from "../../src/app/eval/thresholds.ts";

// The gate's rule on scores as eval reports them: the lower end of each headline's interval,
// coverage, and the number of texts, on every set the student is scored on.

function dimension(key: string, headline: number | null, low: number | null, extra: Partial<DimensionScore> = {}): DimensionScore {
  return {
    key,
    title: key,
    kind: "single",
    headlineMetric: "accuracy",
    headline,
    scoredTexts: 100,
    interval: low === null ? null : { low, high: Math.min(1, (headline ?? low) + 0.05) },
    support: 100,
    covered: 100,
    coverage: 1,
    metrics: { kind: "single", accuracy: headline, macroF1: headline, perLabel: [], confusions: [] },
    ...extra,
  };
}

function score(dimensions: DimensionScore[], coverage = 1): RunScore {
  return { dimensions, overall: { value: null, interval: null }, texts: 100, labelledTexts: Math.round(coverage * 100), coverage };
}

const rule: GateRule = { minLower: { a: 0.8, b: 0.8, c: 0.8 }, minCoverage: 0.95, minTexts: 30 };

describe("decideGate", () => {
  it("promotes a dimension whose lower bound reaches the minimum", () => {
    const d = decideGate(["a"], [{ name: "heldout", score: score([dimension("a", 0.95, 0.9)]) }], rule);
    expect(d.promoted).toEqual(["a"]);
    expect(d.held).toEqual([]);
    expect(d.passed).toBe(true);
    expect(d.rows[0]!.why).toEqual([]);
  });

  it("holds a dimension whose point estimate passes but whose lower bound does not", () => {
    const d = decideGate(["a", "b"], [{ name: "heldout", score: score([dimension("a", 0.95, 0.9), dimension("b", 0.85, 0.72)]) }], rule);
    expect(d.promoted).toEqual(["a"]);
    expect(d.held).toEqual(["b"]);
    expect(d.passed).toBe(false);
    expect(d.dimensions.find((x) => x.key === "b")!.why).toEqual(["heldout: lower bound 0.720 < 0.800"]);
  });

  it("holds every dimension when the run's coverage is below the minimum", () => {
    const d = decideGate(["a", "b"], [{ name: "heldout", score: score([dimension("a", 0.99, 0.97), dimension("b", 0.99, 0.97)], 0.9) }], rule);
    expect(d.promoted).toEqual([]);
    expect(d.held).toEqual(["a", "b"]);
    for (const x of d.dimensions) expect(x.why).toContain("heldout: run coverage 90.0% < 95.0%");
  });

  it("holds a dimension whose own coverage is below the minimum, and one resting on too few texts", () => {
    const d = decideGate(
      ["a", "b", "c"],
      [{ name: "heldout", score: score([dimension("a", 0.99, 0.97, { coverage: 0.5, covered: 50 }), dimension("b", 0.99, 0.97, { scoredTexts: 12 }), dimension("c", 0.99, 0.97)]) }],
      rule,
    );
    expect(d.promoted).toEqual(["c"]);
    expect(d.dimensions.find((x) => x.key === "a")!.why).toEqual(["heldout: coverage 50.0% < 95.0%"]);
    expect(d.dimensions.find((x) => x.key === "b")!.why).toEqual(["heldout: 12 texts < 30"]);
  });

  it("holds an undefined metric (n/a) and says so", () => {
    const d = decideGate(["a"], [{ name: "heldout", score: score([dimension("a", null, null, { headlineMetric: "micro-F1" })]) }], rule);
    expect(d.held).toEqual(["a"]);
    expect(d.dimensions[0]!.why).toEqual(["heldout: micro-F1 undefined (n/a)"]);
    expect(formatGateDecision(d, "student")).toMatch(/a\s+heldout\s+micro-F1\s+n\/a\s+n\/a\s+0\.800\s+HOLD\s+micro-F1 undefined \(n\/a\)/);
  });

  it("holds a dimension the held-out set does not label", () => {
    const d = decideGate(["a", "b"], [{ name: "heldout", score: score([dimension("a", 0.99, 0.97)]) }], rule);
    expect(d.held).toEqual(["b"]);
    expect(d.dimensions[1]!.why).toEqual(["heldout: not labelled in the held-out set"]);
    expect(formatGateDecision(d, "s")).toContain("not labelled in the held-out set");
  });

  it("needs every set to pass: the held-out set passing does not promote a dimension the gold set holds", () => {
    const d = decideGate(
      ["a", "b"],
      [
        { name: "heldout", score: score([dimension("a", 0.99, 0.97), dimension("b", 0.99, 0.97)]) },
        { name: "gold", score: score([dimension("a", 0.9, 0.85), dimension("b", 0.8, 0.7)]) },
      ],
      rule,
    );
    expect(d.promoted).toEqual(["a"]);
    expect(d.dimensions[1]!.why).toEqual(["gold: lower bound 0.700 < 0.800"]);
    expect(d.rows.map((r) => `${r.dimension}/${r.set}/${r.passed}`)).toEqual(["a/heldout/true", "a/gold/true", "b/heldout/true", "b/gold/false"]);
  });

  it("gives a one-line verdict", () => {
    const pass = decideGate(["a"], [{ name: "heldout", score: score([dimension("a", 0.99, 0.97)]) }], rule);
    expect(formatGateDecision(pass, "nova-student").split("\n").at(-1)).toBe("PROMOTE: nova-student passes the gate on all 1 dimensions");
    const some = decideGate(["a", "b"], [{ name: "heldout", score: score([dimension("a", 0.99, 0.97), dimension("b", 0.5, 0.4)]) }], rule);
    expect(formatGateDecision(some, "s").split("\n").at(-1)).toBe("HOLD: s passes on 1 of 2 dimensions (a); held: b");
  });
});

describe("minLowerByDimension", () => {
  const keys = ["a", "b"];
  it("defaults every dimension", () => {
    expect(minLowerByDimension([], keys)).toEqual({ a: DEFAULT_MIN_LOWER, b: DEFAULT_MIN_LOWER });
  });
  it("takes a bare number for every dimension and key=x for one", () => {
    expect(minLowerByDimension(parseThresholds(["0.6", "b=0.9"], keys), keys)).toEqual({ a: 0.6, b: 0.9 });
    expect(minLowerByDimension(parseThresholds(["a=0.7,overall=0.5"], keys), keys)).toEqual({ a: 0.7, b: 0.5 });
  });
});
