import { beforeAll, describe, expect, it } from "vitest";
import { parseLineOutput } from "../../src/llm/parse-line-output.ts";
import { parseTaxonomy } from "../../src/taxonomy/load-taxonomy.ts";
import type { Taxonomy } from "../../src/taxonomy/taxonomy-schema.ts";
import { miniTaxonomyJson } from "../support/fakes.ts";

// The mini taxonomy's fields, in order: sen (single), top (multi 0-2), q (scale 1-5, nullable),
// cr (scale 1-3), sar (boolean), ref (boolean, nullable).
let mini: Taxonomy;
beforeAll(() => {
  mini = parseTaxonomy(JSON.stringify(miniTaxonomyJson()), "mini");
});

const parse = (text: string, stopReason = "end_turn") => parseLineOutput(text, stopReason, mini.dimensions);
const ONE = { i: 1, sen: "pos", top: ["pri", "del"], q: 4, cr: 2, sar: 0, ref: null };
const TWO = { i: 2, sen: "neg", top: [], q: null, cr: 3, sar: 1, ref: 1 };
const CLEAN = "1 pos pri+del 4 2 n -\n2 neg - - 3 y y";

describe("parseLineOutput", () => {
  it("reads each line into the compact shape the codec validates: codes, lists, numbers, 1/0, null", () => {
    expect(parse(CLEAN)).toEqual({ items: [ONE, TWO] });
  });

  it("ignores prose, blank lines and code fences around the lines", () => {
    expect(parse(`Here are the labels:\n\n\`\`\`\n${CLEAN}\n\`\`\`\n\nAnything else?`)).toEqual({ items: [ONE, TWO] });
  });

  it("tolerates runs of spaces or tabs between fields, trailing blanks, CRLF and upper-case codes", () => {
    expect(parse("1  POS\tpri+del 4  2 N -   \r\n2 neg - - 3 Y y")).toEqual({ items: [ONE, TWO] });
  });

  it("rejects a line with too few or too many fields for its text, without guessing which field is missing", () => {
    const parsed = parse("1 pos pri+del 4 n -\n2 neg - - 3 y y extra");
    expect(parsed.items).toEqual([]);
    expect(parsed.rejected).toEqual([
      { i: 1, problem: "the line has 5 fields, 6 expected (one per dimension, in order)" },
      { i: 2, problem: "the line has 7 fields, 6 expected (one per dimension, in order)" },
    ]);
  });

  it("passes values it cannot read on as written, for the codec to reject with the dimension's name", () => {
    expect(parse("1 great pri 4 2 maybe x").items).toEqual([{ i: 1, sen: "great", top: ["pri"], q: 4, cr: 2, sar: "maybe", ref: "x" }]);
  });

  it("drops the last line of an answer cut off at max_tokens, and says why", () => {
    expect(parse("1 pos pri+del 4 2 n -\n2 neg - - 3 y", "max_tokens")).toEqual({ items: [ONE], problem: "the answer was cut off at max_tokens" });
  });

  it("says there were no answer lines when the model wrote only prose, and when it wrote nothing", () => {
    expect(parse("I cannot label these texts.")).toEqual({ items: [], problem: "no answer lines (`<number> <fields>`) in the answer" });
    expect(parse("  \n")).toEqual({ items: [], problem: "the answer is empty" });
  });

  it("keeps every line of a repeated number, so the text can be marked as answered twice", () => {
    expect(parse(`${CLEAN}\n1 neg - 1 1 n n`).items.map((x) => (x as { i: number }).i)).toEqual([1, 2, 1]);
  });
});
