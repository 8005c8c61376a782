import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { EXPORT_FILES, type ExportOptions, exportTrainingSet } from "../../src/app/distill/export-training-set.ts";
import { formatExportReport } from "../../src/app/distill/format-export-report.ts";
import { splitExamples, splitPoint } from "../../src/app/distill/split-examples.ts";
import { studentLimits } from "../../src/app/distill/students.ts";
import { readRequestTexts, readResultMessages, teacherExamples } from "../../src/app/distill/teacher-labels.ts";
import { loadGoldSet } from "../../src/app/eval/gold-set.ts";
import { InvalidRequestError } from "../../src/core/errors/errors.ts";
import { PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { jsonl, resultMessage, type TeacherItem, teacherItems } from "../support/distill-fixtures.ts";
import { PROMPTS_DIR } from "../support/fakes.ts";

let prompt: ResolvedPrompt;
const root = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-distill-"));
let dirs = 0;

beforeAll(async () => {
  prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v2");
});

/** Write results (batches of 10) and the producer's input file for the items; return options exporting them. */
function setup(items: readonly TeacherItem[], overrides: Partial<ExportOptions> = {}): ExportOptions {
  const dir = path.join(root, `case-${++dirs}`);
  fs.mkdirSync(dir);
  const results = path.join(dir, "results.jsonl");
  const texts = path.join(dir, "texts.jsonl");
  const batches = [];
  for (let k = 0; k < items.length; k += 10) batches.push(resultMessage(`b-${k / 10 + 1}`, items.slice(k, k + 10)));
  fs.writeFileSync(results, jsonl(batches));
  fs.writeFileSync(texts, jsonl(items.map((i) => ({ id: i.id, text: i.text }))));
  return {
    resultsFiles: [results],
    textFiles: [texts],
    includeTexts: true,
    prompt,
    limits: studentLimits("llama3", "fine-tuning"),
    textsPerRecord: 5,
    shares: { validation: 0.2, heldout: 0.2, seed: 1 },
    minExamples: 3,
    outDir: path.join(dir, "out"),
    overwrite: false,
    ...overrides,
  };
}

function readJsonl(file: string): unknown[] {
  return fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as unknown);
}

/** The texts in a records file, read back from the user turns (`<n>: "<text>"`). */
function recordTexts(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  return readJsonl(file).flatMap((r) => {
    const user = (r as { messages: { content: { text: string }[] }[] }).messages[0]!.content[0]!.text;
    return user
      .split("\n")
      .flatMap((line) => /^\d+: (".*")$/.exec(line)?.slice(1, 2) ?? [])
      .map((s) => JSON.parse(s) as string);
  });
}

describe("distill export: the opt-in", () => {
  it("refuses without --include-texts, says why, and writes nothing", async () => {
    const options = setup(teacherItems(prompt, 5), { includeTexts: false });
    const error = await exportTrainingSet(options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as Error).message).toMatch(/a training record is a text and the teacher's labels for it/);
    expect((error as Error).message).toMatch(/users' data/);
    expect((error as Error).message).toMatch(/--include-texts/);
    expect(fs.existsSync(options.outDir)).toBe(false);
  });
});

describe("distill export: splits", () => {
  it("puts every text in exactly one split, and keeps held-out texts out of training and validation", async () => {
    const items = teacherItems(prompt, 60);
    const options = setup(items);
    const report = await exportTrainingSet(options);
    const train = recordTexts(path.join(options.outDir, EXPORT_FILES.train));
    const validation = recordTexts(path.join(options.outDir, EXPORT_FILES.validation));
    const heldout = readJsonl(path.join(options.outDir, EXPORT_FILES.heldout)).map((g) => (g as { text: string }).text);
    expect(train.length).toBeGreaterThan(0);
    expect(validation.length).toBeGreaterThan(0);
    expect(heldout.length).toBeGreaterThan(0);
    expect(new Set([...train, ...validation, ...heldout]).size).toBe(60);
    expect(train.length + validation.length + heldout.length).toBe(60);
    for (const text of heldout) {
      expect(train).not.toContain(text);
      expect(validation).not.toContain(text);
    }
    expect(report.splits).toMatchObject({ train: { texts: train.length }, validation: { texts: validation.length }, heldout: { texts: heldout.length } });
  });

  it("writes the held-out texts as a gold set labelq eval reads, with the teacher's labels as the answers", async () => {
    const items = teacherItems(prompt, 40);
    const options = setup(items);
    await exportTrainingSet(options);
    const gold = await loadGoldSet(path.join(options.outDir, EXPORT_FILES.heldout), prompt.taxonomy, { maxTextChars: 5_000 });
    expect(gold.length).toBeGreaterThan(0);
    for (const g of gold) {
      const item = items.find((i) => i.text === g.text)!;
      expect(g.labels).toEqual(item.labels);
      expect(g.id).toMatch(/^b-\d+\/r-\d+$/);
    }
  });

  it("splits the same way for the same seed whatever the order of the texts, and otherwise for another seed", () => {
    const items = Array.from({ length: 200 }, (_, k) => ({ normalized: `text ${k}` }));
    const shares = { validation: 0.1, heldout: 0.1, seed: 7 };
    const a = splitExamples(items, shares);
    const b = splitExamples([...items].reverse(), shares);
    expect(b).toEqual(a);
    const c = splitExamples(items, { ...shares, seed: 8 });
    expect(c.heldout).not.toEqual(a.heldout);
    // A text's split depends on the seed and the text alone.
    expect(splitPoint(7, "text 3")).toBe(splitPoint(7, "text 3"));
    // Shares hold roughly: 10 % of 200 held out, give or take.
    expect(a.heldout.length).toBeGreaterThan(8);
    expect(a.heldout.length).toBeLessThan(35);
  });

  it("keeps a text held out when more texts are exported with the same seed", () => {
    const items = Array.from({ length: 100 }, (_, k) => ({ normalized: `text ${k}` }));
    const shares = { validation: 0.1, heldout: 0.1, seed: 1 };
    const before = new Set(splitExamples(items, shares).heldout.map((x) => x.normalized));
    const after = splitExamples([...items, ...Array.from({ length: 100 }, (_, k) => ({ normalized: `more ${k}` }))], shares);
    for (const x of before) expect(after.heldout.map((y) => y.normalized)).toContain(x);
  });

  it("writes the same files for the same inputs and seed", async () => {
    const items = teacherItems(prompt, 30);
    const first = setup(items);
    const second = setup(items);
    await exportTrainingSet(first);
    await exportTrainingSet(second);
    for (const f of [EXPORT_FILES.train, EXPORT_FILES.validation, EXPORT_FILES.heldout]) {
      expect(fs.readFileSync(path.join(second.outDir, f), "utf8")).toBe(fs.readFileSync(path.join(first.outDir, f), "utf8"));
    }
  });
});

describe("distill export: texts", () => {
  it("keeps one example per text as the label cache normalises it, and counts repeats with other labels", async () => {
    const base = teacherItems(prompt, 10);
    const other = { ...base[0]!.labels, sentiment_polarity: base[0]!.labels.sentiment_polarity === "positive" ? "negative" : "positive" };
    const items: TeacherItem[] = [
      ...base,
      // The same text with other spacing, and the same labels: a plain repeat.
      { id: "r-11", text: `  ${base[1]!.text.replace(/ /g, "   ")} `, labels: base[1]!.labels },
      // The same text again with other labels: the first is kept.
      { id: "r-12", text: base[0]!.text, labels: other },
    ];
    const options = setup(items, { shares: { validation: 0, heldout: 0, seed: 1 } });
    const report = await exportTrainingSet(options);
    expect(report.input).toMatchObject({ items: 12, unique: 10, duplicates: 2, conflictingDuplicates: 1 });
    const train = recordTexts(path.join(options.outDir, EXPORT_FILES.train));
    expect(train).toHaveLength(10);
    expect(train).toContain(base[0]!.text);
    expect(report.warnings.join("\n")).toMatch(/1 repeated texts had other labels/);
  });

  it("joins results and texts by batch and item id from request messages, and by item id from input files", async () => {
    const items = teacherItems(prompt, 4);
    const dir = path.join(root, "join");
    fs.mkdirSync(dir, { recursive: true });
    const requests = path.join(dir, "requests.jsonl");
    // Two batches reuse the id r-1 for different texts: only the request messages can tell them apart.
    fs.writeFileSync(
      requests,
      jsonl([
        { schemaVersion: 1, batchId: "b-1", items: [{ id: "r-1", text: items[0]!.text }] },
        { schemaVersion: 1, batchId: "b-2", items: [{ id: "r-1", text: items[1]!.text }] },
      ]),
    );
    const inputs = path.join(dir, "inputs.csv");
    fs.writeFileSync(inputs, `id,text\nr-3,"${items[2]!.text}"\n`);
    const results = path.join(dir, "results.jsonl");
    fs.writeFileSync(
      results,
      jsonl([
        resultMessage("b-1", [{ id: "r-1", labels: items[0]!.labels }]),
        resultMessage("b-2", [{ id: "r-1", labels: items[1]!.labels }]),
        resultMessage("b-3", [{ id: "r-3", labels: items[2]!.labels }, { id: "r-4", labels: items[3]!.labels }, { id: "r-5", labels: null }]),
      ]),
    );
    const { examples, counts } = teacherExamples(await readResultMessages([results]), await readRequestTexts([requests, inputs]), { taxonomy: prompt.taxonomy, promptVersion: "v2" });
    expect(examples.map((e) => [e.source.batchId, e.source.itemId, e.text])).toEqual([
      ["b-1", "r-1", items[0]!.text],
      ["b-2", "r-1", items[1]!.text],
      ["b-3", "r-3", items[2]!.text],
    ]);
    expect(counts).toMatchObject({ items: 5, withoutLabels: 1, withoutText: 1, unique: 3 });
  });

  it("leaves out labels of another prompt version, another teacher or another taxonomy, and says which", async () => {
    const items = teacherItems(prompt, 4);
    const dir = path.join(root, "filters");
    fs.mkdirSync(dir, { recursive: true });
    const texts = path.join(dir, "texts.jsonl");
    fs.writeFileSync(texts, jsonl(items.map((i) => ({ id: i.id, text: i.text }))));
    const results = path.join(dir, "results.jsonl");
    fs.writeFileSync(
      results,
      jsonl([
        resultMessage("b-1", [items[0]!]),
        resultMessage("b-2", [items[1]!], { promptVersion: "v1" }),
        resultMessage("b-3", [items[2]!], { model: "us.anthropic.claude-haiku-4-5-20251001-v1:0" }),
        resultMessage("b-4", [items[3]!], { taxonomy: "support-triage" }),
      ]),
    );
    const read = async () => [await readResultMessages([results]), await readRequestTexts([texts])] as const;
    const [r, t] = await read();
    const { counts } = teacherExamples(r, t, { taxonomy: prompt.taxonomy, promptVersion: "v2", teacher: "llama3.3-70b" });
    expect(counts).toMatchObject({ unique: 1, otherPromptVersion: { v1: 1 }, otherTeacher: { "us.anthropic.claude-haiku-4-5-20251001-v1:0": 1 }, otherTaxonomy: 1 });
    // Without --teacher, every model's labels are kept and counted by model.
    expect(teacherExamples(r, t, { taxonomy: prompt.taxonomy, promptVersion: "v2" }).counts.teachers).toEqual({
      "us.meta.llama3-3-70b-instruct-v1:0": 1,
      "us.anthropic.claude-haiku-4-5-20251001-v1:0": 1,
    });
  });

  it("without --teacher leaves out items a route sent to a student (a deployment or provisioned ARN, a cascade), counted by model; --teacher naming one keeps it", async () => {
    const deployment = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/k2v8q0w1x7zd";
    const provisioned = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abc123def456";
    const cascade = `${deployment}+us.meta.llama3-3-70b-instruct-v1:0`;
    const items = teacherItems(prompt, 12);
    const dir = path.join(root, "routed");
    fs.mkdirSync(dir, { recursive: true });
    const results = path.join(dir, "results.jsonl");
    fs.writeFileSync(
      results,
      jsonl([
        resultMessage("b-1", items.slice(0, 6)),
        resultMessage("b-2", items.slice(6, 8), { model: deployment }),
        resultMessage("b-3", items.slice(8, 9), { model: provisioned }),
        resultMessage("b-4", items.slice(9, 12), { model: cascade }),
      ]),
    );
    const options = setup(items, { resultsFiles: [results], shares: { validation: 0, heldout: 0, seed: 1 } });
    const report = await exportTrainingSet(options);
    expect(report.input).toMatchObject({ unique: 6, routedToStudent: { [deployment]: 2, [provisioned]: 1, [cascade]: 3 }, teachers: { "us.meta.llama3-3-70b-instruct-v1:0": 6 } });
    expect(formatExportReport(report)).toContain(`6 routed to a student (${deployment}: 2, ${provisioned}: 1, ${cascade}: 3; --teacher <model> keeps a model's labels)`);

    // Naming the student as --teacher keeps its labels (and only its).
    const [r, t] = [await readResultMessages([results]), await readRequestTexts(options.textFiles)];
    const named = teacherExamples(r, t, { taxonomy: prompt.taxonomy, promptVersion: "v2", teacher: deployment }).counts;
    expect(named).toMatchObject({ unique: 2, teachers: { [deployment]: 2 }, routedToStudent: {} });
    expect(named.otherTeacher).toEqual({ "us.meta.llama3-3-70b-instruct-v1:0": 6, [provisioned]: 1, [cascade]: 3 });
  });

  it("refuses labels that are not a full answer under the taxonomy", async () => {
    const [item] = teacherItems(prompt, 1);
    const partial = Object.fromEntries(Object.entries(item!.labels).slice(1));
    const dir = path.join(root, "partial");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "r.jsonl"), jsonl([resultMessage("b-1", [{ id: "r-1", labels: partial }])]));
    fs.writeFileSync(path.join(dir, "t.jsonl"), jsonl([{ id: "r-1", text: item!.text }]));
    const { counts } = teacherExamples(await readResultMessages([path.join(dir, "r.jsonl")]), await readRequestTexts([path.join(dir, "t.jsonl")]), {
      taxonomy: prompt.taxonomy,
      promptVersion: "v2",
    });
    expect(counts).toMatchObject({ invalidLabels: 1, unique: 0 });
  });
});

describe("distill export: limits", () => {
  it("stops at the record limit, cutting training and validation in proportion", async () => {
    const options = setup(teacherItems(prompt, 60), { textsPerRecord: 2, limits: studentLimits("llama3", "fine-tuning", { maxRecords: 10 }) });
    const report = await exportTrainingSet(options);
    expect(report.splits.train.records + report.splits.validation.records).toBe(10);
    expect(report.splits.validation.records).toBeGreaterThan(0);
    expect(report.dropped.recordsOverRecordLimit).toBeGreaterThan(0);
    // Every text not held out is in a kept record or counted as past the limit.
    expect(report.splits.train.texts + report.splits.validation.texts + report.dropped.overRecordLimit).toBe(60 - report.splits.heldout.texts);
    expect(report.dropped.overRecordLimit).toBeGreaterThanOrEqual(report.dropped.recordsOverRecordLimit);
    expect(readJsonl(path.join(options.outDir, EXPORT_FILES.train))).toHaveLength(report.splits.train.records);
  });

  it("splits records over the token limit and drops a text over it alone, with the counts in the report", async () => {
    const items = teacherItems(prompt, 12, (k) => (k === 3 ? `a very long review ${"that goes on and on ".repeat(200)}` : `short review ${k}`));
    const probe = setup(items, { shares: { validation: 0, heldout: 0, seed: 1 }, textsPerRecord: 1 });
    // With one text per record, the largest record is the long text's: one token less and it fits no record.
    const alone = await exportTrainingSet(probe);
    const limit = alone.tokens.maxPerRecord - 1;
    const options = setup(items, { shares: { validation: 0, heldout: 0, seed: 1 }, textsPerRecord: 12, limits: studentLimits("llama3", "fine-tuning", { maxRecordTokens: limit }) });
    const report = await exportTrainingSet(options);
    expect(report.dropped.overRecordTokens).toBe(1);
    expect(report.dropped.recordsSplit).toBeGreaterThan(0);
    expect(report.tokens.maxPerRecord).toBeLessThanOrEqual(limit);
    expect(report.splits.train.texts).toBe(11);
    expect(recordTexts(path.join(options.outDir, EXPORT_FILES.train)).some((t) => t.startsWith("a very long review"))).toBe(false);
  });

  it("leaves out of Nova's records the texts holding a reserved word", async () => {
    const items = teacherItems(prompt, 20, (k) => (k % 5 === 0 ? `User: the bot ignored me, review ${k}` : `review ${k}`));
    const options = setup(items, { limits: studentLimits("nova", "fine-tuning"), shares: { validation: 0, heldout: 0, seed: 1 } });
    const report = await exportTrainingSet(options);
    expect(report.dropped.reservedWords).toBe(4);
    expect(recordTexts(path.join(options.outDir, EXPORT_FILES.train)).some((t) => t.includes("User:"))).toBe(false);
    // Llama has no such words: all 20 are exported.
    const llama = await exportTrainingSet(setup(items, { shares: { validation: 0, heldout: 0, seed: 1 } }));
    expect(llama.splits.train.texts).toBe(20);
  });

  it("refuses an export whose shares leave nothing to train on, and files an earlier export left", async () => {
    await expect(exportTrainingSet(setup(teacherItems(prompt, 5), { shares: { validation: 0.5, heldout: 0.5, seed: 1 } }))).rejects.toThrow(/leave nothing to train on/);
    const options = setup(teacherItems(prompt, 5));
    await exportTrainingSet(options);
    await expect(exportTrainingSet(options)).rejects.toThrow(/already there: choose another --out-dir, or pass --overwrite/);
    await expect(exportTrainingSet({ ...options, overwrite: true })).resolves.toMatchObject({ input: { unique: 5 } });
  });
});

describe("distill export: report", () => {
  it("gives each dimension's label balance over the training texts and names the values too thin to learn", async () => {
    // Every text positive: the other sentiments have no example at all.
    const items = teacherItems(prompt, 30).map((i) => ({ ...i, labels: { ...i.labels, sentiment_polarity: "positive" } }));
    const options = setup(items, { shares: { validation: 0, heldout: 0, seed: 1 }, minExamples: 3 });
    const report = await exportTrainingSet(options);
    const sentiment = report.balance.find((b) => b.key === "sentiment_polarity")!;
    expect(sentiment.values).toEqual([
      { value: "positive", count: 30, share: 1 },
      { value: "negative", count: 0, share: 0 },
      { value: "neutral", count: 0, share: 0 },
      { value: "mixed", count: 0, share: 0 },
    ]);
    expect(sentiment.thin).toEqual(["negative", "neutral", "mixed"]);
    expect(report.thinDimensions).toContain("sentiment_polarity");
    // Shares of each dimension's single answers sum to 1.
    for (const b of report.balance.filter((x) => x.kind === "single")) expect(b.values.reduce((s, v) => s + v.share, 0)).toBeCloseTo(1, 12);
    // The JSON report on disk is the one returned.
    expect(JSON.parse(fs.readFileSync(path.join(options.outDir, EXPORT_FILES.report), "utf8"))).toEqual(report);
    const text = formatExportReport(report);
    expect(text).toMatch(/^train\s+30\s+6\s+[\d,]+\s+\S+train\.jsonl$/m);
    expect(text).toMatch(/^sentiment_polarity\s+single\s+positive 100\.0%, negative 0\.0%, neutral 0\.0%, mixed 0\.0%\s+negative, neutral, mixed$/m);
    expect(text).toContain("too thin to learn: ");
    expect(text).toMatch(/warning: 6 training and validation records: llama3 fine-tuning needs at least 100/);
  });

  it("writes the files for the owner's eyes only: they hold user texts", async () => {
    const options = setup(teacherItems(prompt, 10));
    await exportTrainingSet(options);
    for (const f of Object.values(EXPORT_FILES)) expect(fs.statSync(path.join(options.outDir, f)).mode & 0o077).toBe(0);
  });
});
