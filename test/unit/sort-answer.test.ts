import { describe, expect, it } from "vitest";
import { sortAnswer } from "../../src/core/classify/sort-answer.ts";
import type { ParsedOutput } from "../../src/core/models/parse-model-output.ts";
import { createLabelCodec } from "../../src/core/taxonomy/label-codec.ts";
import { parseTaxonomy } from "../../src/core/taxonomy/load-taxonomy.ts";
import { miniTaxonomyJson, validCompactLabels } from "../support/fakes.ts";

const mini = parseTaxonomy(JSON.stringify(miniTaxonomyJson()), "mini");
const codec = createLabelCodec(mini);
const asked = [{ id: "a" }, { id: "b" }, { id: "c" }];
const MODEL = "us.meta.llama3-3-70b-instruct-v1:0";

/** The clean compact answer object for text number `i`, labelled from `text`. */
function answer(i: unknown, text: string): Record<string, unknown> {
  return { i, ...validCompactLabels(mini, text) };
}

function decoded(text: string) {
  const d = codec.decode(validCompactLabels(mini, text));
  if (!d.ok) throw new Error(d.issues.join("; "));
  return d.labels;
}

function sort(items: unknown[], problem?: string) {
  const parsed: ParsedOutput = problem === undefined ? { items } : { items, problem };
  return sortAnswer(asked, parsed, codec, MODEL);
}

describe("sortAnswer", () => {
  it("labels every text answered validly, in the order asked, whatever the answer's order, with the model as source", () => {
    const sorted = sort([answer(3, "c"), answer(1, "a"), answer(2, "b")]);
    expect(sorted.labelled).toEqual(["a", "b", "c"].map((id) => ({ id, labels: decoded(id), source: "model", model: MODEL, error: null })));
    expect(sorted).toMatchObject({ invalid: [], missing: [], unexpected: 0 });
  });

  it("accepts the text number as a numeric string", () => {
    expect(sort([answer("2", "b")]).labelled.map((r) => r.id)).toEqual(["b"]);
  });

  it("sorts a text whose labels fail validation into invalid, naming the dimension", () => {
    const sorted = sort([answer(1, "a"), { ...answer(2, "b"), sen: "great" }, answer(3, "c")]);
    expect(sorted.labelled.map((r) => r.id)).toEqual(["a", "c"]);
    expect(sorted.invalid).toHaveLength(1);
    expect(sorted.invalid[0]).toMatchObject({ id: "b", code: "INVALID_OUTPUT" });
    expect(sorted.invalid[0]?.message).toMatch(/^invalid labels: sentiment: /);
  });

  it("sorts a text the answer does not mention into missing, with the parser's reason when it gave one", () => {
    expect(sort([answer(1, "a"), answer(3, "c")]).missing).toEqual([{ id: "b", code: "MISSING_FROM_OUTPUT", message: "no labels for this text in the model's answer" }]);
    const cut = sort([answer(1, "a")], "the answer was cut off at max_tokens");
    expect(cut.missing.map((p) => [p.id, p.message])).toEqual([
      ["b", "no labels for this text in the model's answer (the answer was cut off at max_tokens)"],
      ["c", "no labels for this text in the model's answer (the answer was cut off at max_tokens)"],
    ]);
  });

  it("trusts neither answer for a text answered twice, even when one is valid, and leaves the other texts alone", () => {
    const sorted = sort([answer(1, "a"), answer(2, "b"), answer(1, "forged"), answer(3, "c")]);
    expect(sorted.labelled.map((r) => r.id)).toEqual(["b", "c"]);
    expect(sorted.invalid).toEqual([{ id: "a", code: "INVALID_OUTPUT", message: "the model answered twice for this text" }]);
  });

  it("counts objects without a number that was asked as unexpected and drops them", () => {
    const strays = [answer(0, "x"), answer(4, "x"), answer(999, "x"), answer(-1, "x"), answer(1.5, "x"), answer("two", "x"), validCompactLabels(mini, "x"), "text", null, [1]];
    const sorted = sort([...strays, answer(1, "a"), answer(2, "b"), answer(3, "c")]);
    expect(sorted.unexpected).toBe(strays.length);
    expect(sorted.labelled.map((r) => r.id)).toEqual(["a", "b", "c"]);
  });

  it("sorts an empty answer into missing only", () => {
    expect(sort([], "no JSON in the answer")).toMatchObject({ labelled: [], invalid: [], unexpected: 0, missing: [{ id: "a" }, { id: "b" }, { id: "c" }] });
  });
});

describe("sortAnswer with rejected lines (lines format)", () => {
  it("sorts a text whose line could not be read into invalid, with the reason, and leaves the others alone", () => {
    const sorted = sortAnswer(asked, { items: [answer(1, "a"), answer(3, "c")], rejected: [{ i: 2, problem: "the line has 5 fields, 6 expected" }] }, codec, MODEL);
    expect(sorted.labelled.map((l) => l.id)).toEqual(["a", "c"]);
    expect(sorted.invalid).toEqual([{ id: "b", code: "INVALID_OUTPUT", message: "unreadable answer: the line has 5 fields, 6 expected" }]);
    expect(sorted.missing).toEqual([]);
  });

  it("ignores an unreadable line for a text that also has a readable one (a stray numbered sentence), and reports one problem per text", () => {
    const sorted = sortAnswer(
      asked,
      { items: [answer(1, "a"), answer(2, "b")], rejected: [{ i: 2, problem: "short" }, { i: 3, problem: "first" }, { i: 3, problem: "second" }] },
      codec,
      MODEL,
    );
    expect(sorted.labelled.map((l) => l.id)).toEqual(["a", "b"]);
    expect(sorted.invalid).toEqual([{ id: "c", code: "INVALID_OUTPUT", message: "unreadable answer: first" }]);
  });

  it("still trusts neither of two readable answers for one text", () => {
    const sorted = sortAnswer(asked, { items: [answer(1, "a"), answer(2, "b"), answer(2, "x"), answer(3, "c")] }, codec, MODEL);
    expect(sorted.invalid).toEqual([{ id: "b", code: "INVALID_OUTPUT", message: "the model answered twice for this text" }]);
  });

  it("counts a rejected line for a number nobody asked for as unexpected", () => {
    expect(sortAnswer(asked, { items: [], rejected: [{ i: 9, problem: "short" }] }, codec, MODEL).unexpected).toBe(1);
  });
});
