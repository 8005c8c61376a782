import path from "node:path";
import { describe, expect, it } from "vitest";
import { GoldSetError } from "../../src/core/errors/errors.ts";
import { goldSupport, loadGoldSet, parseGoldSet } from "../../src/app/eval/gold-set.ts";
import { loadTaxonomy, parseTaxonomy } from "../../src/core/taxonomy/load-taxonomy.ts";
import { caught, miniTaxonomyJson, PROMPTS_DIR, REPO_ROOT } from "../support/fakes.ts";

const mini = parseTaxonomy(JSON.stringify(miniTaxonomyJson()), "mini");
const line = (o: object) => JSON.stringify(o);

function problems(raw: string): string[] {
  const error = caught(() => parseGoldSet(raw, mini, "gold.jsonl"));
  expect(error).toBeInstanceOf(GoldSetError);
  expect((error as GoldSetError).code).toBe("GOLD_SET_INVALID");
  expect((error as GoldSetError).retryable).toBe(false);
  return (error as GoldSetError).issues;
}

describe("parseGoldSet", () => {
  it("reads id, text, labels for some dimensions, tags and notes; blank lines are skipped", () => {
    const raw = [
      line({ id: "a", text: "Love it", labels: { sentiment: "positive", topics: [], quality: null }, tags: ["short"], notes: "easy" }),
      "",
      line({ id: "b", text: "Too dear", labels: { sentiment: "negative", sarcasm: false, credibility: 2 } }),
    ].join("\n");
    expect(parseGoldSet(raw, mini, "gold.jsonl")).toEqual([
      { id: "a", text: "Love it", labels: { sentiment: "positive", topics: [], quality: null }, tags: ["short"], notes: "easy" },
      { id: "b", text: "Too dear", labels: { sentiment: "negative", sarcasm: false, credibility: 2 }, tags: [] },
    ]);
  });

  it("reports every problem at once, by line, with the allowed values", () => {
    const raw = [
      "{not json",
      line({ id: "x", text: "t1", labels: { sentiment: "happy" } }),
      line({ id: "y", text: "t2", labels: { mood: "ok" } }),
      line({ id: "z", text: "t3", labels: { quality: 7, credibility: null, sarcasm: "yes", topics: ["price", "price"] } }),
      line({ id: "x", text: "t4", labels: { sentiment: "neutral" } }),
      line({ id: "w", text: "t1", labels: { sentiment: "neutral" } }),
    ].join("\n");
    const issues = problems(raw);
    expect(issues).toEqual([
      expect.stringMatching(/^line 1: not valid JSON/),
      'line 2 (id "x"): sentiment: "happy" is not one of its labels (positive, negative, neutral)',
      expect.stringMatching(/^line 3 \(id "y"\): unknown dimension "mood" \(taxonomy "mini" has: sentiment, topics, quality, credibility/),
      'line 4 (id "z"): quality: 7 is not an integer from 1 to 5 or null',
      'line 4 (id "z"): credibility: null is not an integer from 1 to 3',
      'line 4 (id "z"): sarcasm: "yes" is not true or false',
      'line 4 (id "z"): topics: ["price","price"] repeats a label',
      'line 5 (id "x"): duplicate id, first used on line 2',
      'line 6 (id "w"): the same text as line 2; a repeated text would be counted twice',
    ]);
  });

  it("names the label a code stands for, since gold sets use names", () => {
    expect(problems(line({ id: "a", text: "t", labels: { sentiment: "pos" } }))[0]).toContain('"pos" is the code of "positive": gold sets use label names');
  });

  it("checks the number of multi-choice labels and the line's own fields", () => {
    expect(problems(line({ id: "a", text: "t", labels: { topics: ["price", "quality", "delivery"] } }))).toEqual([
      'line 1 (id "a"): topics: 3 labels given; it takes 0 to 2',
    ]);
    expect(problems(line({ id: "a b", text: "", labels: {}, extra: 1 }))).toEqual([
      "line 1: id: ids may contain only letters, digits and . _ : @ / -",
      "line 1: text: text must not be empty",
      'line 1: unknown field "extra" (a line has id, text, labels, tags, notes)',
    ]);
    expect(problems(line({ id: "a", text: "t", labels: {} }))).toEqual(['line 1 (id "a"): no labels: give at least one dimension']);
  });

  it("refuses texts longer than a request allows, and an empty file", () => {
    expect(() => parseGoldSet(line({ id: "a", text: "x".repeat(11), labels: { sarcasm: true } }), mini, "g", { maxTextChars: 10 })).toThrow(
      /text is 11 characters, longer than the 10 a request allows/,
    );
    expect(problems("\n\n")).toEqual(["no gold items: the file is empty"]);
  });

  it("counts how often each label is the gold answer", () => {
    const items = parseGoldSet(
      [line({ id: "a", text: "1", labels: { topics: ["price", "quality"], quality: null } }), line({ id: "b", text: "2", labels: { topics: ["price"], quality: 4 } })].join("\n"),
      mini,
      "g",
    );
    const support = goldSupport(items, mini);
    expect(support.topics).toEqual({ price: 2, quality: 1, delivery: 0 });
    expect(support.quality).toEqual({ "1": 0, "2": 0, "3": 0, "4": 1, "5": 0, null: 1 });
    expect(support.sentiment).toEqual({ positive: 0, negative: 0, neutral: 0 });
  });
});

describe("the shipped product-feedback gold set", () => {
  it("validates against the taxonomy, has at least 150 texts and every label of every dimension at least twice", async () => {
    const taxonomy = await loadTaxonomy(PROMPTS_DIR, "product-feedback");
    const items = await loadGoldSet(path.join(REPO_ROOT, "eval", "gold", "product-feedback.jsonl"), taxonomy, { maxTextChars: 5_000 });
    expect(items.length).toBeGreaterThanOrEqual(150);
    const rare = Object.entries(goldSupport(items, taxonomy)).flatMap(([dim, counts]) =>
      Object.entries(counts).flatMap(([label, n]) => (n < 2 ? [`${dim}=${label} (${n})`] : [])),
    );
    expect(rare).toEqual([]);
    const tags = new Set(items.flatMap((i) => i.tags));
    for (const hard of ["sarcasm", "mixed-sentiment", "multilingual", "spam", "prompt-injection"]) expect(tags).toContain(hard);
  });
});
