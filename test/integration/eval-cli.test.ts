import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { EvalReport } from "../../src/app/eval/run-evaluation.ts";
import { REPO_ROOT } from "../support/fakes.ts";
import { runCli } from "../support/run-cli.ts";

// `labelq eval` as a user runs it: the gold texts go through the worker's core to the embedded
// Bedrock emulator (a test double) over HTTP/2, and come back scored.
const NO_LATENCY = JSON.stringify({ latency: { fixedMs: 0, perOutputTokenMs: 0 } });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-eval-cli-"));
const goldFile = path.join(tmp, "gold.jsonl");

beforeAll(() => {
  // The first 30 texts of the shipped gold set.
  const lines = fs.readFileSync(path.join(REPO_ROOT, "eval", "gold", "product-feedback.jsonl"), "utf8").split("\n").slice(0, 30);
  fs.writeFileSync(goldFile, lines.join("\n") + "\n");
});

describe("labelq eval", () => {
  it("labels the gold set through the emulator and prints every dimension, operations and the emulator warning", async () => {
    const { code, stdout, stderr } = await runCli(["eval", "--gold", goldFile, "--emulator", NO_LATENCY, "--batch-size", "12"]);
    expect(stderr).not.toMatch(/labelq: /);
    expect(code).toBe(0);
    expect(stdout).toContain("Bedrock emulator (a test double, not a model)");
    expect(stdout).toMatch(/^sentiment_polarity\s+accuracy\s+\d\.\d{3}\s+\[/m);
    expect(stdout).toMatch(/^overall\s+mean of 25/m);
    expect(stdout).toMatch(/operations: 30 texts, 0 without labels \(0\.0%\); 3 model calls/);
  });

  it("writes JSON, results usable as --against, and finds no flips against an identical run", async () => {
    const out = path.join(tmp, "results.jsonl");
    const first = await runCli(["eval", "--gold", goldFile, "--emulator", NO_LATENCY, "--json", "--out", out]);
    expect(first.code).toBe(0);
    const report = JSON.parse(first.stdout) as EvalReport;
    expect(report.target.kind).toBe("emulator");
    expect(report.run.score.texts).toBe(30);
    expect(report.run.score.dimensions).toHaveLength(25);
    expect(report.run.ops.labelled).toBe(30);
    expect(fs.readFileSync(out, "utf8").trim().split("\n")).toHaveLength(1);

    const second = await runCli(["eval", "--gold", goldFile, "--emulator", NO_LATENCY, "--json", "--against", out]);
    const compared = JSON.parse(second.stdout) as EvalReport;
    expect(compared.against).toMatchObject({ kind: "results", agreement: { sharedTexts: 30, flips: [] } });
    expect(compared.against!.delta!.overall.delta).toBe(0);
  });

  it("exits 2 when a --min threshold is not met, and says which", async () => {
    const { code, stdout } = await runCli(["eval", "--gold", goldFile, "--emulator", NO_LATENCY, "--min", "0.99", "--min", "language=0.1"]);
    expect(code).toBe(2);
    expect(stdout).toMatch(/^FAIL overall >= 0.99: \d\.\d{3}$/m);
    expect(stdout).toMatch(/^ok {3}language >= 0.1: /m);
    expect(stdout).toMatch(/^ok {3}coverage >= 95\.0%: 30 of 30 texts labelled \(100\.0%\)$/m);
  });

  it("exits 2 when --min is met on the texts that got labels but too few texts got any, and says so", async () => {
    // The emulator leaves out some texts of every answer (a fault it injects on purpose): re-asks and
    // the fallback recover most, not all.
    const faults = JSON.stringify({ latency: { fixedMs: 0, perOutputTokenMs: 0 }, faults: [{ kind: "missing-ids", probability: 1 }] });
    const { code, stdout } = await runCli(["eval", "--gold", goldFile, "--emulator", faults, "--min", "0", "--min-coverage", "0.99", "--min-texts", "1"]);
    expect(code).toBe(2);
    const labelled = Number(/^FAIL coverage >= 99\.0%: (\d+) of 30 texts labelled/m.exec(stdout)?.[1]);
    expect(labelled).toBeLessThan(30);
    // The score itself passes its minimum of 0: coverage alone fails it.
    expect(stdout).toMatch(/^FAIL overall >= 0: \d\.\d{3} \(coverage \d+\.\d% < 99\.0%\)$/m);
  });

  it("refuses an invalid gold set before labelling anything, naming the line and the allowed labels", async () => {
    const bad = path.join(tmp, "bad.jsonl");
    fs.writeFileSync(bad, JSON.stringify({ id: "x", text: "hi", labels: { sentiment_polarity: "pos" } }) + "\n");
    const { code, stderr, stdout } = await runCli(["eval", "--gold", bad, "--emulator", NO_LATENCY]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toContain("GOLD_SET_INVALID");
    expect(stderr).toContain('line 1 (id "x"): sentiment_polarity: "pos" is not one of its labels (positive, negative, neutral, mixed); "pos" is the code of "positive"');
  });
});
