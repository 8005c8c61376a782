import { beforeAll, describe, expect, it } from "vitest";
import { parseLineOutput } from "../../src/core/models/parse-line-output.ts";
import { parseTaxonomy } from "../../src/core/taxonomy/load-taxonomy.ts";
import type { Taxonomy } from "../../src/core/taxonomy/taxonomy-schema.ts";
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

  it("tolerates runs of spaces, tabs or no-break spaces between fields, trailing blanks, CRLF and Unicode line separators", () => {
    expect(parse("1  pos\tpri+del 4\u00a02 n -   \r\n2 neg - - 3 y y")).toEqual({ items: [ONE, TWO] });
    expect(parse("1 pos pri+del 4 2 n -\u20282 neg - - 3 y y")).toEqual({ items: [ONE, TWO] });
  });

  it("reads the numbering marks models add to lists and tables: 1. 1: 1) **1** - 1 and | 1 | ... |", () => {
    for (const [a, b] of [
      ["1. pos pri+del 4 2 n -", "2. neg - - 3 y y"],
      ["1: pos pri+del 4 2 n -", "2: neg - - 3 y y"],
      ["1) pos pri+del 4 2 n -", "2) neg - - 3 y y"],
      ["**1** pos pri+del 4 2 n -", "**2** neg - - 3 y y"],
      ["- 1 pos pri+del 4 2 n -", "- 2 neg - - 3 y y"],
      ["| 1 | pos | pri+del | 4 | 2 | n | - |", "| 2 | neg | - | - | 3 | y | y |"],
      ["1|pos|pri+del|4|2|n|-", "2|neg|-|-|3|y|y"],
    ]) {
      expect(parse(`| i | sen | top |\n|---|---|---|\n${a}\n${b}`).items, a).toEqual([ONE, TWO]);
    }
  });

  it("reads codes as written: upper case, empty labels between + and a bare + are left for the codec to refuse", () => {
    expect(parse("1 POS pri++del 4 2 Y +").items).toEqual([{ i: 1, sen: "POS", top: ["pri", "", "del"], q: 4, cr: 2, sar: "Y", ref: "+" }]);
  });

  it("reads text numbers of several digits", () => {
    expect(parse("12 pos pri+del 4 2 n -\n137 neg - - 3 y y").items.map((x) => (x as { i: number }).i)).toEqual([12, 137]);
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

  it("keeps the last answer line of a cut-off answer when the cut fell after it (a newline or prose follows)", () => {
    expect(parse(`${CLEAN}\n`, "max_tokens").items).toEqual([ONE, TWO]);
    expect(parse(`${CLEAN}\nLet me kn`, "max_tokens").items).toEqual([ONE, TWO]);
  });

  it("says there were no answer lines when the model wrote only prose, and when it wrote nothing", () => {
    expect(parse("I cannot label these texts.")).toEqual({ items: [], problem: "no answer lines (`<number> <fields>`) in the answer" });
    expect(parse("  \n")).toEqual({ items: [], problem: "the answer is empty" });
  });

  it("keeps every line of a repeated number, so the text can be marked as answered twice", () => {
    expect(parse(`${CLEAN}\n1 neg - 1 1 n n`).items.map((x) => (x as { i: number }).i)).toEqual([1, 2, 1]);
  });
});
