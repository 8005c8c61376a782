import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { ExportReport } from "../../src/app/distill/export-training-set.ts";
import { forFormat, PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { jsonl, resultMessage, teacherItems } from "../support/distill-fixtures.ts";
import { PROMPTS_DIR } from "../support/fakes.ts";
import { runCli } from "../support/run-cli.ts";

// `labelq distill export` as a user runs it: a results file as `labelq collect` writes it and the
// producer's input file go in; training files, a gold set and a report come out.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-distill-cli-"));
const results = path.join(tmp, "results.jsonl");
const texts = path.join(tmp, "reviews.jsonl");
let prompt: ResolvedPrompt;

beforeAll(async () => {
  prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v2");
  const items = teacherItems(prompt, 40);
  fs.writeFileSync(texts, jsonl(items.map((i) => ({ id: i.id, text: i.text }))));
  // Four batches of ten; one item of the last batch failed.
  const batches = [0, 10, 20, 30].map((k) => resultMessage(`reviews-${k / 10 + 1}`, items.slice(k, k + 10).map((i, n) => (k === 30 && n === 9 ? { id: i.id, labels: null } : i))));
  fs.writeFileSync(results, jsonl(batches));
});

const base = ["distill", "export", "--results", results, "--texts", texts, "--prompt", "v2", "--texts-per-record", "4"];

describe("labelq distill export", () => {
  it("refuses without --include-texts, exit 1, and says why; nothing is written", async () => {
    const out = path.join(tmp, "refused");
    const { code, stdout, stderr } = await runCli([...base, "--out-dir", out]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/^labelq: .*INVALID_REQUEST/m);
    expect(stderr).toContain("a training record is a text and the teacher's labels for it");
    expect(stderr).toContain("--include-texts");
    expect(fs.existsSync(out)).toBe(false);
  });

  it("writes bedrock-conversation-2024 records, a held-out gold set and a report, and prints the table", async () => {
    const out = path.join(tmp, "export");
    const { code, stdout, stderr } = await runCli([...base, "--include-texts", "--out-dir", out]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^labelq distill export · product-feedback prompt v2 · fine-tuning of llama3/);
    expect(stdout).toMatch(/^train\s+\d+\s+\d+\s+[\d,]+\s+\S+train\.jsonl$/m);
    expect(stdout).toMatch(/^heldout\s+\d+\s+-\s+-\s+\S+heldout\.jsonl \(gold set for labelq eval --gold\)$/m);
    expect(stdout).toContain("left out: 1 with an item error");
    expect(stdout).toMatch(/^sentiment_polarity\s+single\s+/m);

    const report = JSON.parse(fs.readFileSync(path.join(out, "report.json"), "utf8")) as ExportReport;
    expect(report.input).toMatchObject({ resultMessages: 4, items: 40, withoutLabels: 1, unique: 39 });
    const { train, validation, heldout } = report.splits;
    expect(train.texts + validation.texts + heldout.texts).toBe(39);

    const records = fs.readFileSync(path.join(out, "train.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { schemaVersion: string; system: { text: string }[]; messages: { role: string }[] });
    expect(records).toHaveLength(train.records);
    const lines = forFormat(prompt, "lines");
    for (const r of records) {
      expect(r.schemaVersion).toBe("bedrock-conversation-2024");
      expect(r.system[0]!.text).toBe(lines.system);
      expect(r.messages.map((m) => m.role)).toEqual(["user", "assistant"]);
    }

    // The held-out set is a gold set: labelq eval reads it (here through the emulator, a test double).
    const evalRun = await runCli(["eval", "--gold", path.join(out, "heldout.jsonl"), "--prompt", "v2", "--json", "--emulator", JSON.stringify({ latency: { fixedMs: 0, perOutputTokenMs: 0 } })]);
    expect(evalRun.code).toBe(0);
    expect((JSON.parse(evalRun.stdout) as { run: { score: { texts: number } } }).run.score.texts).toBe(heldout.texts);
  });
});
