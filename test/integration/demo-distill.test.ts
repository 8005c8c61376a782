import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { resultSchema } from "../../src/core/contracts/result.ts";
import { runCli } from "../support/run-cli.ts";

// `labelq demo --distill` on the embedded stack and the Bedrock emulator (a test double): the
// student's errors are the demo's own (two dimensions flipped at 40 %), so the gate must hold
// exactly those two, the cascade must agree with the teacher where the student alone does not,
// and cost less than the teacher.
describe("labelq demo --distill", () => {
  it("trains, deploys, gates, routes a canary and compares teacher, student and cascade, ending on a one-line summary", async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "labelq-demo-distill-")), "distill");
    const run = await runCli(["demo", "--distill", "--out", out]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split("\n");
    const last = lines.at(-1)!;
    expect(last).toMatch(/^distill demo \(emulator\): gate promoted 23\/25 dimensions of nova-micro-student; canary \d+\/250 texts; /);
    expect(run.stdout).toContain("held: sentiment_polarity, urgency");
    expect(run.stdout).toMatch(/a test double/);

    const figures = (route: string) => {
      const m = new RegExp(`${route} (\\d+\\.\\d) % at \\$(\\d+\\.\\d+)/1k`).exec(last);
      if (!m) throw new Error(`no ${route} figures in: ${last}`);
      return { agreement: Number(m[1]), per1k: Number(m[2]) };
    };
    const [teacher, student, cascade] = [figures("teacher"), figures("student"), figures("cascade")];
    expect(teacher.agreement).toBe(100);
    // 2 of 25 dimensions flipped at 40 %, a flip changing the label: about 3.2 % of labels wrong.
    expect(student.agreement).toBeLessThan(99);
    expect(student.agreement).toBeGreaterThan(90);
    expect(cascade.agreement).toBe(100);
    expect(student.per1k).toBeLessThan(teacher.per1k / 5);
    expect(cascade.per1k).toBeLessThan(teacher.per1k);
    expect(cascade.per1k).toBeGreaterThan(student.per1k);

    // About 10 % of the sample answered by the student in the canary step (sticky hashing of 250 texts).
    const canary = Number(/canary (\d+)\/250 texts/.exec(last)![1]);
    expect(canary).toBeGreaterThan(10);
    expect(canary).toBeLessThan(45);

    const gate = JSON.parse(fs.readFileSync(path.join(out, "gate.json"), "utf8")) as { held: string[]; promoted: string[] };
    expect(gate.held).toEqual(["sentiment_polarity", "urgency"]);
    const catalogue = JSON.parse(fs.readFileSync(path.join(out, "catalogue.json"), "utf8")) as { models: { alias: string; modelIds: { inRegion: string } }[] };
    expect(catalogue.models.map((m) => m.alias)).toEqual(["nova-micro-student"]);
    expect(catalogue.models[0]!.modelIds.inRegion).toMatch(/^arn:aws:bedrock:us-east-1:\d{12}:custom-model-deployment\//);
    const teacherResults = fs.readFileSync(path.join(out, "teacher-results.jsonl"), "utf8").trim().split("\n").map((l) => resultSchema.parse(JSON.parse(l)));
    expect(teacherResults.reduce((n, r) => n + r.items.length, 0)).toBe(250);
    expect(fs.existsSync(path.join(out, "training-set", "train.jsonl"))).toBe(true);
  });
});
