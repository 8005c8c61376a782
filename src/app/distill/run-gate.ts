import fs from "node:fs/promises";
import path from "node:path";
import type { EvalCore } from "../eval/eval-core.ts";
import type { GoldItem } from "../eval/gold-set.ts";
import { type EvalReport, type EvalTarget, runEvaluation } from "../eval/run-evaluation.ts";
import type { Taxonomy } from "../../core/taxonomy/taxonomy-schema.ts";
import { decideGate, type GateDecision, type GateRule, type GateSet } from "./gate-decision.ts";

/** Where the gate writes the dimensions a cascade may route to the student. */
export const DEFAULT_GATE_FILE = "out/distill/gate.json";

export interface GateOptions {
  taxonomy: string;
  promptVersion: string;
  student: string;
  teacher: string;
  /** The held-out texts with the teacher's labels (`labelq distill export` writes heldout.jsonl). */
  heldout: { file: string; items: readonly GoldItem[] };
  /** A human gold set, when given: the student is scored on it too, and the teacher labels it for reference. */
  gold?: { file: string; items: readonly GoldItem[] };
  rule: GateRule;
  batchSize: number;
  bootstrap: { resamples: number; seed: number };
  target: EvalTarget;
  progress?: (line: string) => void;
}

/** What `labelq distill gate` reports and writes (`--json`, `--out`). */
export interface GateReport {
  createdAt: string;
  target: EvalTarget;
  taxonomy: string;
  promptVersion: string;
  student: string;
  teacher: string;
  heldoutFile: string;
  goldFile?: string;
  rule: GateRule;
  bootstrap: { resamples: number; seed: number; level: number };
  /** The dimensions the student passed on: what a cascade would route to it. */
  promoted: string[];
  held: string[];
  passed: boolean;
  dimensions: GateDecision["dimensions"];
  rows: GateDecision["rows"];
  /** The teacher's own headline on the gold set, per dimension, for reading the student's beside it. */
  teacherOnGold?: { key: string; point: number | null; low: number | null; high: number | null }[];
}

/**
 * Score the student with eval's machinery (runEvaluation: the worker's labelling core, eval's
 * metrics and bootstrap intervals) on the held-out texts, whose labels are the teacher's, and on
 * the gold set when one is given; then decide per dimension with decideGate.
 */
export async function runGate(taxonomy: Taxonomy, options: GateOptions, core: EvalCore): Promise<GateReport> {
  const evaluate = (items: readonly GoldItem[], goldFile: string, against?: string): Promise<EvalReport> =>
    runEvaluation(
      taxonomy,
      items,
      {
        taxonomy: options.taxonomy,
        promptVersion: options.promptVersion,
        model: options.student,
        goldFile,
        batchSize: options.batchSize,
        cache: false,
        ...(against === undefined ? {} : { against }),
        repeat: 1,
        thresholds: [],
        bootstrap: options.bootstrap,
        target: options.target,
        ...(options.progress ? { progress: options.progress } : {}),
      },
      core,
    );
  const heldout = await evaluate(options.heldout.items, options.heldout.file);
  const sets: GateSet[] = [{ name: "heldout", score: heldout.run.score }];
  let gold: EvalReport | undefined;
  if (options.gold) {
    gold = await evaluate(options.gold.items, options.gold.file, options.teacher);
    sets.push({ name: "gold", score: gold.run.score });
  }
  const decision = decideGate(
    taxonomy.dimensions.map((d) => d.key),
    sets,
    options.rule,
  );
  return {
    createdAt: new Date().toISOString(),
    target: options.target,
    taxonomy: options.taxonomy,
    promptVersion: options.promptVersion,
    student: options.student,
    teacher: options.teacher,
    heldoutFile: options.heldout.file,
    ...(options.gold ? { goldFile: options.gold.file } : {}),
    rule: options.rule,
    bootstrap: { ...options.bootstrap, level: 0.95 },
    promoted: decision.promoted,
    held: decision.held,
    passed: decision.passed,
    dimensions: decision.dimensions,
    rows: decision.rows,
    ...(gold?.against?.score
      ? { teacherOnGold: gold.against.score.dimensions.map((d) => ({ key: d.key, point: d.headline, low: d.interval?.low ?? null, high: d.interval?.high ?? null })) }
      : {}),
  };
}

/** Write the gate report where a later cascade reads which dimensions go to the student. */
export async function writeGateFile(file: string, report: GateReport): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, JSON.stringify(report, null, 2) + "\n");
}
