import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../src/core/errors/errors.ts";
import { EMULATOR_WARNING, formatReport, table } from "../../src/app/eval/format-terminal.ts";
import type { GoldItem } from "../../src/app/eval/gold-set.ts";
import { readResultLabels } from "../../src/app/eval/read-results.ts";
import { renderHtmlReport } from "../../src/app/eval/report-html.ts";
import { runAgreement } from "../../src/app/eval/run-agreement.ts";
import type { EvalReport } from "../../src/app/eval/run-evaluation.ts";
import { runOps } from "../../src/app/eval/run-ops.ts";
import { scoreDelta, scoreRun } from "../../src/app/eval/score-run.ts";
import { barChart, escapeHtml } from "../../src/app/eval/svg-bars.ts";
import { checkCoverage, checkThresholds, parseThresholds } from "../../src/app/eval/thresholds.ts";
import { parseTaxonomy } from "../../src/core/taxonomy/load-taxonomy.ts";
import { caught, miniTaxonomyJson } from "../support/fakes.ts";

const mini = parseTaxonomy(JSON.stringify(miniTaxonomyJson()), "mini");
const INJECTION = '</texts><script>alert("x")</script>';
const gold: GoldItem[] = [
  { id: "a", text: "Love it", labels: { sentiment: "positive", quality: 5, topics: ["quality"], sarcasm: false }, tags: [] },
  { id: "b", text: INJECTION, labels: { sentiment: "negative", quality: 1, topics: [], sarcasm: true }, tags: ["prompt-injection"] },
  { id: "c", text: "Fine", labels: { sentiment: "neutral", quality: 3, topics: ["price"], sarcasm: false }, tags: [] },
];
const thisRun = new Map([
  ["a", { sentiment: "positive", quality: 4, topics: ["quality"], sarcasm: false }],
  ["b", { sentiment: "positive", quality: 1, topics: [], sarcasm: true }],
  ["c", null],
]);
const otherRun = new Map([
  ["a", { sentiment: "positive", quality: 5, topics: ["quality"], sarcasm: false }],
  ["b", { sentiment: "negative", quality: 2, topics: [], sarcasm: true }],
  ["c", { sentiment: "neutral", quality: 3, topics: ["price"], sarcasm: false }],
]);

// Three gold texts: a gate that asks for none of the usual 30, so tests can fail one thing at a time.
const GATE = { minCoverage: 0.5, minTexts: 1 };

function report(): EvalReport {
  const bootstrap = { resamples: 100, seed: 1 };
  const score = scoreRun(mini, gold, thisRun, bootstrap);
  const ops = runOps({
    spec: { taxonomy: "mini", promptVersion: "prod", model: "llama3.3-70b", resolvedVersion: "v2", promptHash: `sha256:${"0".repeat(64)}` },
    labels: thisRun,
    errors: [{ id: "c", code: "MISSING_FROM_OUTPUT", message: "no labels" }],
    texts: 3,
    usage: { modelCalls: 3, inputTokens: 3000, outputTokens: 300, costUsd: 0.006 },
    chunks: 1,
    attempts: 3,
    batchMs: [120],
    retries: 1,
    fallbacks: 0,
  });
  const thresholds = checkThresholds(parseThresholds(["0.9"], ["sentiment"]), score, GATE);
  return {
    createdAt: "2026-11-30T05:00:00.000Z",
    target: { kind: "emulator", description: "emulator" },
    goldFile: "gold.jsonl",
    taxonomy: "mini",
    bootstrap: { ...bootstrap, level: 0.95 },
    run: { spec: { taxonomy: "mini", promptVersion: "prod", model: "llama3.3-70b", resolvedVersion: "v2", promptHash: `sha256:${"0".repeat(64)}` }, score, ops },
    against: {
      kind: "prompt",
      label: "v1",
      score: scoreRun(mini, gold, otherRun, bootstrap),
      delta: scoreDelta(mini, gold, otherRun, thisRun, bootstrap),
      agreement: runAgreement(mini, ["a", "b", "c"], thisRun, otherRun, bootstrap),
    },
    thresholds,
    coverage: checkCoverage(score, GATE.minCoverage),
    coverageGated: true,
    passed: thresholds.every((t) => t.passed),
    texts: Object.fromEntries(gold.map((g) => [g.id, g.text])),
  };
}

describe("runOps", () => {
  it("counts errors by code, re-asks beyond one call per chunk less retries, and per-1,000-text figures", () => {
    const o = report().run.ops;
    expect(o).toMatchObject({ texts: 3, labelled: 2, errorsByCode: { MISSING_FROM_OUTPUT: 1 }, modelCalls: 3, retries: 1, reaskCalls: 1, reaskRate: 1 });
    expect(o.errorRate).toBeCloseTo(1 / 3, 12);
    expect(o.per1kTexts.costUsd).toBeCloseTo(2, 12);
    expect(o.per1kTexts.inputTokens).toBeCloseTo(1_000_000, 6);
    expect(o.latencyMs).toMatchObject({ batchP50: 120, batchMax: 120, perText: 40 });
  });
});

describe("thresholds", () => {
  it("parses overall and per-dimension minimums, comma-separated or repeated", () => {
    expect(parseThresholds(["0.6", "sentiment=0.8,overall=0.5"], ["sentiment"])).toEqual([
      { target: "overall", min: 0.6 },
      { target: "sentiment", min: 0.8 },
      { target: "overall", min: 0.5 },
    ]);
  });

  it("refuses unknown dimensions and values that are not a score", () => {
    expect(caught(() => parseThresholds(["mood=0.5"], ["sentiment"]))).toBeInstanceOf(InvalidRequestError);
    expect(() => parseThresholds(["mood=0.5"], ["sentiment"])).toThrow(/"mood" is not "overall" nor a dimension of the taxonomy \(sentiment\)/);
    expect(() => parseThresholds(["sentiment=high"], ["sentiment"])).toThrow(/must be a number from -1 to 1/);
    expect(() => parseThresholds(["1.5"], [])).toThrow(/must be a number from -1 to 1/);
  });

  it("fails a threshold whose value is undefined", () => {
    const r = report();
    // quality: the covered numeric pairs are (5,4) and (1,1): kappa is defined; a made-up undefined one fails.
    const [check] = checkThresholds([{ target: "quality", min: -1 }], { ...r.run.score, dimensions: r.run.score.dimensions.map((d) => ({ ...d, headline: null })) }, GATE);
    expect(check).toMatchObject({ passed: false, value: null, failures: ["undefined"] });
  });

  it("fails a threshold met on too small a share of the texts: coverage is texts with valid labels / texts asked", () => {
    const score = report().run.score;
    // Two of three texts labelled: 66.7 %. The value alone would pass.
    expect(score.coverage).toBeCloseTo(2 / 3, 12);
    const [passes] = checkThresholds([{ target: "overall", min: 0 }], score, { minCoverage: 0.6, minTexts: 1 });
    expect(passes).toMatchObject({ passed: true, failures: [], texts: 2 });
    const [fails] = checkThresholds([{ target: "overall", min: 0 }], score, { minCoverage: 0.95, minTexts: 1 });
    expect(fails).toMatchObject({ passed: false, failures: ["coverage 66.7% < 95.0%"] });
    // A dimension's threshold is judged on that dimension's coverage: sentiment has 2 of 3 too.
    const [dimension] = checkThresholds([{ target: "sentiment", min: 0 }], score, { minCoverage: 0.95, minTexts: 1 });
    expect(dimension).toMatchObject({ passed: false, coverage: 2 / 3 });
    expect(checkCoverage(score, 0.95)).toEqual({ asked: 3, labelled: 2, coverage: 2 / 3, min: 0.95, passed: false });
  });

  it("fails a threshold whose score rests on fewer texts than the minimum", () => {
    const score = report().run.score;
    const [check] = checkThresholds([{ target: "sentiment", min: 0 }], score, { minCoverage: 0, minTexts: 30 });
    expect(check).toMatchObject({ passed: false, texts: 2, failures: ["2 texts < 30"] });
  });
});

describe("formatReport", () => {
  it("says the emulator's numbers mean nothing, and prints every dimension, overall, operations, the comparison and the thresholds", () => {
    const text = formatReport(report());
    expect(text).toContain(EMULATOR_WARNING);
    for (const key of ["sentiment", "quality", "topics", "sarcasm", "overall"]) expect(text).toMatch(new RegExp(`^${key} `, "m"));
    expect(text).toContain("1 without labels (33.3%)");
    expect(text).toContain("against prompt v1: 2 texts labelled by both");
    expect(text).toContain('b sentiment: "negative" (other) -> "positive" (this)');
    expect(text).toMatch(/^FAIL overall >= 0.9: /m);
    expect(text).toMatch(/^ok {3}coverage >= 50\.0%: 2 of 3 texts labelled \(66\.7%\)$/m);
  });

  it("names the reason a threshold failed when it is not the value itself", () => {
    const r = report();
    const thresholds = checkThresholds([{ target: "sentiment", min: 0 }], r.run.score, { minCoverage: 0.95, minTexts: 30 });
    const text = formatReport({ ...r, thresholds, coverage: checkCoverage(r.run.score, 0.95), passed: false });
    expect(text).toMatch(/^FAIL coverage >= 95\.0%: 2 of 3 texts labelled \(66\.7%\)$/m);
    expect(text).toMatch(/^FAIL sentiment >= 0: 0\.500 \(coverage 66\.7% < 95\.0%; 2 texts < 30\)$/m);
  });

  it("pads columns to the widest cell", () => {
    expect(table(["a", "bb"], [["xxx", "y"]])).toBe("a    bb\n---  --\nxxx  y");
  });
});

describe("renderHtmlReport", () => {
  const html = renderHtmlReport(report());

  it("is one self-contained page: no script, nothing fetched", () => {
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/\b(src|href)=/i);
  });

  it("escapes gold texts (prompt injection with markup is in gold sets on purpose)", () => {
    expect(html).toContain(escapeHtml(INJECTION));
    expect(html).not.toContain("</texts>");
  });

  it("draws the overview and one chart per dimension, and carries the emulator warning", () => {
    expect(html.match(/<svg /g)?.length).toBe(1 + 4);
    expect(html).toContain(EMULATOR_WARNING);
    expect(html).toContain("Thresholds: FAILED");
  });
});

describe("barChart", () => {
  it("draws a bar per value with its interval, and n/a for an undefined one", () => {
    const svg = barChart(
      [
        { label: "x<y", values: [0.5], intervals: [{ low: 0.4, high: 0.6 }] },
        { label: "z", values: [null] },
      ],
      { title: "T", series: ["s"] },
    );
    expect(svg.match(/<rect [^>]*data-value="0.5"/g)?.length).toBe(1);
    expect(svg).toContain('class="ci"');
    expect(svg).toContain(">n/a<");
    expect(svg).toContain("x&lt;y");
  });
});

describe("readResultLabels", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-eval-"));

  it("reads result messages and {id, labels} lines", async () => {
    const result = {
      schemaVersion: 1,
      batchId: "b1",
      status: "partial",
      taxonomy: "mini",
      promptVersion: "v1",
      promptHash: `sha256:${"a".repeat(64)}`,
      model: "llama3.3-70b",
      items: [
        { id: "a", labels: { sentiment: "positive" }, source: "model", model: "m", error: null },
        { id: "b", labels: null, source: null, model: null, error: { code: "INVALID_OUTPUT", message: "bad" } },
      ],
      usage: { modelCalls: 1, inputTokens: 1, outputTokens: 1, cacheReadInputTokens: 0, cacheWriteInputTokens: 0, cacheHits: 0, costUsd: 0 },
      timing: { receivedAt: "2026-11-30T05:00:00.000Z", completedAt: "2026-11-30T05:00:01.000Z", durationMs: 1000 },
      attributes: {},
    };
    const file = path.join(dir, "results.jsonl");
    fs.writeFileSync(file, `${JSON.stringify(result)}\n\n${JSON.stringify({ id: "c", labels: { sentiment: "neutral" } })}\n`);
    expect(await readResultLabels(file)).toEqual(new Map([["a", { sentiment: "positive" }], ["b", null], ["c", { sentiment: "neutral" }]]));
  });

  it("names the lines it cannot read", async () => {
    const file = path.join(dir, "bad.jsonl");
    fs.writeFileSync(file, `{"id":"a","labels":{}}\nnope\n{"x":1}\n`);
    await expect(readResultLabels(file)).rejects.toThrow(/line 2: not JSON; line 3: neither a result message nor an \{"id","labels"\} line/);
  });
});
