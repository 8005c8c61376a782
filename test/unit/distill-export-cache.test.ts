import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type CacheCounts, cachedTeacherExamples, mergeCachedExamples } from "../../src/app/distill/cached-teacher-labels.ts";
import { exportTrainingSet } from "../../src/app/distill/export-training-set.ts";
import { formatExportReport } from "../../src/app/distill/format-export-report.ts";
import { studentLimits } from "../../src/app/distill/students.ts";
import { type TeacherCache, teacherCache } from "../../src/app/distill/teacher-cache.ts";
import type { RequestText, TeacherCounts, TeacherExample } from "../../src/app/distill/teacher-labels.ts";
import { labelBatch, type LabelBatchSettings } from "../../src/core/classify/label-batch.ts";
import type { CacheEntry, CacheStats, LabelCache } from "../../src/core/cache/label-cache.ts";
import type { LabelValue } from "../../src/core/contracts/result.ts";
import { StoreError } from "../../src/core/errors/errors.ts";
import { DEFAULT_CATALOGUE } from "../../src/core/models/model-registry.ts";
import { PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { jsonl, teacherLabels } from "../support/distill-fixtures.ts";
import { FakeLabelCache, FakeModelProvider, PassThroughLimiter, PROMPTS_DIR, silentLogger, validCompactLabels } from "../support/fakes.ts";

const NOW = Date.parse("2026-12-01T12:00:00.000Z");
const settings: LabelBatchSettings = {
  defaultTaxonomy: "product-feedback",
  defaultPromptVersion: "prod",
  defaultModel: "llama3.3-70b",
  allowedModels: ["claude-haiku"],
  chunkSize: 50,
  maxReaskRounds: 0,
  cacheTtlDays: 7,
};
const prompts = new PromptRegistry(PROMPTS_DIR);
let prompt: ResolvedPrompt;

beforeAll(async () => {
  prompt = await prompts.resolve("product-feedback", "prod");
});

function scope(cache: LabelCache, teacher = "llama3.3-70b", promptVersion = "prod") {
  return teacherCache({ cache, catalogue: DEFAULT_CATALOGUE, prompts, teacher, taxonomy: "product-feedback", promptVersion, now: () => NOW });
}

const texts = (...ts: string[]): RequestText[] => ts.map((text, k) => ({ text, file: "in.jsonl", itemId: `r-${k + 1}` }));

/** A cache entry as the worker writes it for the teacher, with every dimension under its current definition. */
function entry(source: TeacherCache, text: string, overrides: Partial<CacheEntry> = {}): CacheEntry {
  const labels = teacherLabels(source.prompt, text);
  return {
    key: source.keyOf(text),
    labels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, { h: source.prompt.dimensionHashes[k]!, v }])),
    model: source.teacher.modelId,
    promptVersion: source.prompt.version,
    expiresAt: Math.floor(NOW / 1000) + 3600,
    ...overrides,
  };
}

describe("distill export from the label cache: keys", () => {
  it("finds every entry the worker cached for the teacher, taxonomy and prompt (an alias of the version included), and none for another teacher", async () => {
    const cache = new FakeLabelCache();
    cache.now = () => NOW;
    const provider = new FakeModelProvider({ labeller: (text) => validCompactLabels(prompt.taxonomy, text) });
    const request = { schemaVersion: 1 as const, batchId: "b-1", items: [{ id: "a", text: "Great kettle." }, { id: "b", text: "Lid broke after a week." }] };
    const result = await labelBatch(request, new Date(NOW), settings, { provider, limiter: new PassThroughLimiter(), logger: silentLogger(), prompts, cache, now: () => NOW });
    expect(result.status).toBe("completed");
    expect(cache.entries.size).toBe(2);

    // The request named the alias "prod"; the export names the version it stands for.
    const teacher = await scope(cache, "llama3.3-70b", prompt.version);
    const { examples, counts } = await cachedTeacherExamples(texts(" Great kettle.", "Lid broke after a week."), teacher);
    expect(counts).toMatchObject({ texts: 2, found: 2, stale: 0, missing: 0 });
    expect(examples.map((x) => x.labels)).toEqual(result.items.map((i) => i.labels));
    expect(examples[0]).toMatchObject({ text: " Great kettle.", normalized: "Great kettle.", source: { from: "label-cache", model: teacher.teacher.modelId, itemId: "r-1", batchId: "" } });

    const other = await cachedTeacherExamples(texts("Great kettle.", "Lid broke after a week."), await scope(cache, "claude-haiku"));
    expect(other.counts).toMatchObject({ teacher: "claude-haiku", found: 0, missing: 2 });
  });
});

describe("distill export from the label cache: which entries count", () => {
  it("takes labels under the current definitions, and counts stale, expired, missing, another model's and invalid entries", async () => {
    const cache = new FakeLabelCache();
    cache.now = () => NOW;
    const teacher = await scope(cache);
    const older = entry(teacher, "older definitions");
    older.labels.sarcasm = { ...older.labels.sarcasm!, h: "sha256:an-older-definition" };
    const partial = entry(teacher, "a dimension never cached");
    delete partial.labels.sentiment_polarity;
    const invalid = entry(teacher, "an unknown label");
    invalid.labels.sentiment_polarity = { ...invalid.labels.sentiment_polarity!, v: "ecstatic" };
    await cache.putMany([
      entry(teacher, "fresh one"),
      entry(teacher, "fresh two"),
      older,
      partial,
      invalid,
      entry(teacher, "expired", { expiresAt: Math.floor(NOW / 1000) - 1 }),
      entry(teacher, "by the fallback", { model: "us.anthropic.claude-haiku-4-5-20251001-v1:0" }),
    ]);
    const { examples, counts } = await cachedTeacherExamples(
      texts("fresh one", "fresh   one", "fresh two", "older definitions", "a dimension never cached", "an unknown label", "expired", "by the fallback", "never labelled"),
      teacher,
    );
    expect(examples.map((x) => x.text)).toEqual(["fresh one", "fresh two"]);
    expect(examples[1]!.labels).toEqual(teacherLabels(teacher.prompt, "fresh two"));
    expect(Object.keys(examples[0]!.labels)).toEqual(teacher.prompt.taxonomy.dimensions.map((d) => d.key));
    expect(counts).toEqual({
      teacher: "llama3.3-70b",
      modelId: teacher.teacher.modelId,
      texts: 8,
      found: 2,
      stale: 2,
      missing: 2,
      otherModel: { "us.anthropic.claude-haiku-4-5-20251001-v1:0": 1 },
      invalidLabels: 1,
      inResultsToo: 0,
    } satisfies CacheCounts);
  });

  it("fails when the cache cannot be read instead of counting every text missing", async () => {
    const failing: LabelCache = {
      errors: 0,
      getMany(this: { errors: number }) {
        this.errors += 1;
        return Promise.resolve(new Map());
      },
      putMany: () => Promise.resolve(),
      stats(this: { errors: number }): CacheStats {
        return { reads: 0, hits: 0, writes: 0, errors: this.errors, readCapacityUnits: 0, writeCapacityUnits: 0 };
      },
    } as LabelCache & { errors: number };
    const teacher = await scope(failing);
    await expect(cachedTeacherExamples(texts("a text"), teacher)).rejects.toBeInstanceOf(StoreError);
  });
});

describe("distill export from the label cache and results together", () => {
  const example = (text: string, model: string, sentiment: LabelValue): TeacherExample => ({
    text,
    normalized: text,
    labels: { sentiment_polarity: sentiment },
    source: { file: "f", batchId: "", itemId: text, model, promptVersion: "v2", from: "model" },
  });

  it("keeps the results' labels for a text both have, and counts it", () => {
    const counts = { unique: 2, teachers: { "m-results": 2 } } as unknown as TeacherCounts;
    const cacheCounts = { inResultsToo: 0 } as CacheCounts;
    const merged = mergeCachedExamples(
      [example("a", "m-results", "positive"), example("b", "m-results", "negative")],
      [example("b", "m-cache", "positive"), example("c", "m-cache", "neutral")],
      counts,
      cacheCounts,
    );
    expect(merged.map((x) => [x.text, x.labels.sentiment_polarity, x.source.model])).toEqual([
      ["a", "positive", "m-results"],
      ["b", "negative", "m-results"],
      ["c", "neutral", "m-cache"],
    ]);
    expect(cacheCounts.inResultsToo).toBe(1);
    expect(counts).toMatchObject({ unique: 3, teachers: { "m-results": 2, "m-cache": 1 } });
  });

  it("exports from the cache alone, and reports what the cache held in report.json and the table", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-distill-cache-unit-"));
    const cache = new FakeLabelCache();
    cache.now = () => NOW;
    const teacher = await scope(cache);
    const all = Array.from({ length: 30 }, (_, k) => `cached review ${k + 1}: sturdy, but the lid squeaks`);
    await cache.putMany(all.slice(0, 24).map((t) => entry(teacher, t)));
    const textsFile = path.join(dir, "texts.jsonl");
    fs.writeFileSync(textsFile, jsonl(all.map((text, k) => ({ id: `r-${k + 1}`, text }))));
    const report = await exportTrainingSet({
      resultsFiles: [],
      teacherCache: teacher,
      textFiles: [textsFile],
      includeTexts: true,
      prompt: teacher.prompt,
      limits: studentLimits("llama3", "fine-tuning"),
      textsPerRecord: 5,
      shares: { validation: 0.2, heldout: 0.2, seed: 1 },
      minExamples: 3,
      outDir: path.join(dir, "out"),
      overwrite: false,
    });
    expect(report.input.cache).toMatchObject({ texts: 30, found: 24, missing: 6, stale: 0 });
    expect(report.input).toMatchObject({ resultMessages: 0, unique: 24, teachers: { [teacher.teacher.modelId]: 24 } });
    const { train, validation, heldout } = report.splits;
    expect(train.texts + validation.texts + heldout.texts).toBe(24);
    const gold = fs.readFileSync(path.join(dir, "out", "heldout.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { id: string; notes: string });
    // A text of a producer input file names no batch: its gold id is its item id.
    expect(gold.every((g) => /^r-\d+$/.test(g.id) && g.notes.includes("label cache"))).toBe(true);
    expect(formatExportReport(report)).toMatch(/^label cache \(teacher llama3\.3-70b, \S+\): 30 texts looked up, 24 found, 0 stale \(an older definition of some dimension\), 6 missing$/m);
  });
});
