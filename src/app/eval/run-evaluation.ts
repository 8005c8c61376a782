import fs from "node:fs/promises";
import type { LabelResult } from "../../core/contracts/result.ts";
import { findModel } from "../../core/models/model-registry.ts";
import type { Taxonomy } from "../../core/taxonomy/taxonomy-schema.ts";
import type { EvalCore } from "./eval-core.ts";
import type { GoldItem } from "./gold-set.ts";
import { type LabelRun, labelGoldTexts, type RunSpec } from "./label-gold-texts.ts";
import { readResultLabels } from "./read-results.ts";
import { type RunAgreement, runAgreement } from "./run-agreement.ts";
import { type RunOps, runOps } from "./run-ops.ts";
import { type RunLabels, type RunScore, type ScoreDelta, scoreDelta, scoreRun } from "./score-run.ts";
import { type DimensionConsistency, selfConsistency } from "./self-consistency.ts";
import { checkCoverage, checkThresholds, type CoverageCheck, type CoverageGate, DEFAULT_MIN_COVERAGE, DEFAULT_MIN_TEXTS, type Threshold, type ThresholdCheck } from "./thresholds.ts";

/** Where the model answers come from; the emulator is a test double and every report says so. */
export interface EvalTarget {
  kind: "emulator" | "bedrock";
  description: string;
}

export interface EvalOptions extends RunSpec {
  goldFile: string;
  batchSize: number;
  cache: boolean;
  /** A prompt version or alias, a model alias, or a results JSONL file to compare with. */
  against?: string;
  /** Label the gold texts this many times (>= 2 measures self-consistency). */
  repeat: number;
  thresholds: readonly Threshold[];
  /** What every threshold needs besides its number (default 95 % coverage, 30 texts). */
  gate?: CoverageGate;
  /** Fail the run on coverage below gate.minCoverage even without thresholds (set when --min-coverage is given). */
  requireCoverage?: boolean;
  bootstrap: { resamples: number; seed: number };
  target: EvalTarget;
  /** Each result message of the main run, as it completes. */
  onResult?: (result: LabelResult) => void;
  /** Progress lines (stderr in the CLI). */
  progress?: (line: string) => void;
}

/** A run's spec, scores and operations. */
export interface EvaluatedRun {
  spec: LabelRun["spec"];
  score: RunScore;
  ops: RunOps;
}

/** Everything `labelq eval` reports, in one JSON-serialisable object (`--json`). */
export interface EvalReport {
  createdAt: string;
  target: EvalTarget;
  goldFile: string;
  taxonomy: string;
  bootstrap: { resamples: number; seed: number; level: number };
  run: EvaluatedRun;
  against?: {
    kind: "prompt" | "model" | "results";
    label: string;
    /** The other run scored against the same gold set (absent for results that do not cover it). */
    run?: EvaluatedRun;
    score?: RunScore;
    /** This run minus the other, with paired intervals. */
    delta?: ScoreDelta;
    agreement: RunAgreement;
  };
  consistency?: { runs: number; dimensions: DimensionConsistency[] };
  thresholds: ThresholdCheck[];
  /** The run's coverage: texts with valid labels / texts asked, against the minimum. */
  coverage: CoverageCheck;
  /** Whether coverage decides `passed`: with any threshold, or when asked for. */
  coverageGated: boolean;
  /** False when any threshold failed, or coverage is gated and below its minimum. */
  passed: boolean;
  /** Texts by id, for reading flips. */
  texts: Record<string, string>;
}

/**
 * Run an evaluation: label the gold texts (N times with --repeat), optionally a second
 * configuration or stored results to compare with, and score everything.
 */
export async function runEvaluation(taxonomy: Taxonomy, gold: readonly GoldItem[], options: EvalOptions, core: EvalCore): Promise<EvalReport> {
  const stamp = new Date().toISOString().replace(/[-:.TZ]/g, "").slice(0, 14);
  const runOnce = async (spec: RunSpec, name: string, onResult?: (r: LabelResult) => void) => {
    options.progress?.(`labelling ${gold.length} texts: ${spec.taxonomy} prompt ${spec.promptVersion}, model ${spec.model} (${name})`);
    return labelGoldTexts(gold, { ...spec, batchSize: options.batchSize, cache: options.cache, runId: `eval-${stamp}-${name}`, onResult }, core);
  };
  const evaluated = (run: LabelRun): EvaluatedRun => ({ spec: run.spec, score: scoreRun(taxonomy, gold, run.labels, options.bootstrap), ops: runOps(run) });

  const spec: RunSpec = { taxonomy: options.taxonomy, promptVersion: options.promptVersion, model: options.model };
  const main = await runOnce(spec, "run1", options.onResult);
  const repeats: RunLabels[] = [main.labels];
  for (let k = 2; k <= options.repeat; k++) repeats.push((await runOnce(spec, `run${k}`)).labels);

  const ids = gold.map((g) => g.id);
  const gate = options.gate ?? { minCoverage: DEFAULT_MIN_COVERAGE, minTexts: DEFAULT_MIN_TEXTS };
  const evaluatedMain = evaluated(main);
  const report: EvalReport = {
    createdAt: new Date().toISOString(),
    target: options.target,
    goldFile: options.goldFile,
    taxonomy: taxonomy.name,
    bootstrap: { ...options.bootstrap, level: 0.95 },
    run: evaluatedMain,
    thresholds: [],
    coverage: checkCoverage(evaluatedMain.score, gate.minCoverage),
    coverageGated: options.thresholds.length > 0 || (options.requireCoverage ?? false),
    passed: true,
    texts: Object.fromEntries(gold.map((g) => [g.id, g.text])),
  };
  if (options.repeat >= 2) report.consistency = { runs: options.repeat, dimensions: selfConsistency(taxonomy, ids, repeats, options.bootstrap) };

  if (options.against !== undefined) {
    const against = await resolveAgainst(options.against);
    let other: RunLabels;
    let otherRun: EvaluatedRun | undefined;
    if (against.kind === "results") {
      other = await readResultLabels(options.against);
    } else {
      const otherSpec = against.kind === "model" ? { ...spec, model: options.against } : { ...spec, promptVersion: options.against };
      const run = await runOnce(otherSpec, "against");
      other = run.labels;
      otherRun = evaluated(run);
    }
    const covers = gold.some((g) => other.get(g.id));
    report.against = {
      kind: against.kind,
      label: options.against,
      ...(otherRun ? { run: otherRun } : {}),
      ...(covers ? { score: otherRun?.score ?? scoreRun(taxonomy, gold, other, options.bootstrap), delta: scoreDelta(taxonomy, gold, other, main.labels, options.bootstrap) } : {}),
      agreement: runAgreement(taxonomy, ids, main.labels, other, options.bootstrap),
    };
  }
  report.thresholds = checkThresholds(options.thresholds, report.run.score, gate);
  report.passed = report.thresholds.every((t) => t.passed) && (!report.coverageGated || report.coverage.passed);
  return report;
}

/** What `--against` names: an existing file is stored results; a registry alias a model; anything else a prompt version or alias. */
async function resolveAgainst(value: string): Promise<{ kind: "prompt" | "model" | "results" }> {
  const isFile = await fs.stat(value).then(
    (s) => s.isFile(),
    () => false,
  );
  if (isFile || /\.jsonl?$/i.test(value)) return { kind: "results" };
  if (findModel(value)) return { kind: "model" };
  return { kind: "prompt" };
}
