import { describe, expect, it } from "vitest";
import { parseModelOutput } from "../../src/core/models/parse-model-output.ts";

const ONE = { i: 1, sp: "pos", top: ["pri"] };
const TWO = { i: 2, sp: "neg", top: [] };
const CLEAN = JSON.stringify({ r: [ONE, TWO] });

describe("parseModelOutput", () => {
  it("reads a clean answer with no problem", () => {
    expect(parseModelOutput(CLEAN, "end_turn")).toEqual({ items: [ONE, TWO] });
  });

  it("repairs trailing commas", () => {
    expect(parseModelOutput('{"r":[{"i":1,"sp":"pos","top":["pri",],},{"i":2,"sp":"neg","top":[]},],}', "end_turn")).toEqual({ items: [ONE, TWO] });
  });

  it("repairs missing closing brackets of the list and the wrapper", () => {
    expect(parseModelOutput('{"r":[{"i":1,"sp":"pos","top":["pri"]},{"i":2,"sp":"neg","top":[]}', "end_turn")).toEqual({ items: [ONE, TWO] });
  });

  it("skips prose before and after the JSON", () => {
    const text = `Sure! Here are the labels you asked for:\n\n${CLEAN}\n\nLet me know if you need anything else.`;
    expect(parseModelOutput(text, "end_turn")).toEqual({ items: [ONE, TWO] });
  });

  it("reads JSON inside a ```json code fence", () => {
    expect(parseModelOutput(`\`\`\`json\n${CLEAN}\n\`\`\``, "end_turn")).toEqual({ items: [ONE, TWO] });
    expect(parseModelOutput(`Here you go:\n\`\`\`\n${CLEAN}\n\`\`\`\nDone.`, "end_turn")).toEqual({ items: [ONE, TWO] });
  });

  it("reads a bare array of objects", () => {
    expect(parseModelOutput(JSON.stringify([ONE, TWO]), "end_turn")).toEqual({ items: [ONE, TWO] });
  });

  it("reads the only list under a differently named wrapper key", () => {
    expect(parseModelOutput(JSON.stringify({ results: [ONE, TWO], note: "done" }), "end_turn")).toEqual({ items: [ONE, TWO] });
  });

  it("prefers the r list when the wrapper has several lists", () => {
    expect(parseModelOutput(JSON.stringify({ warnings: ["x"], r: [ONE] }), "end_turn")).toEqual({ items: [ONE] });
  });

  it("reports a problem when the wrapper has several lists and none is r", () => {
    expect(parseModelOutput(JSON.stringify({ a: [ONE], b: [TWO] }), "end_turn")).toEqual({ items: [], problem: "the JSON has no list of items" });
  });

  it("reads one object per line (JSON lines) as the list of items", () => {
    expect(parseModelOutput(`${JSON.stringify(ONE)}\n${JSON.stringify(TWO)}`, "end_turn")).toEqual({ items: [ONE, TWO] });
  });

  it("drops the last item of an answer cut off at max_tokens, even when it would repair into a valid object", () => {
    // The second object lacks only its closing brace: repaired, it would look complete and valid.
    const text = '{"r":[{"i":1,"sp":"pos","top":["pri"]},{"i":2,"sp":"neg","top":[]';
    const parsed = parseModelOutput(text, "max_tokens");
    expect(parsed.items).toEqual([ONE]);
    expect(parsed.problem).toBe("the answer was cut off at max_tokens");
  });

  it("drops the last item of an answer cut off at the model's context window, and says so", () => {
    const text = '{"r":[{"i":1,"sp":"pos","top":["pri"]},{"i":2,"sp":"neg","top":[]';
    expect(parseModelOutput(text, "model_context_window_exceeded")).toEqual({ items: [ONE], problem: "the answer was cut off at the model's context window" });
  });

  it("drops an object cut inside a string value at max_tokens (jsonrepair would close the string silently)", () => {
    const parsed = parseModelOutput('{"r":[{"i":1,"sp":"pos","top":["pri"]},{"i":2,"sp":"ne', "max_tokens");
    expect(parsed.items).toEqual([ONE]);
    expect(parsed.problem).toMatch(/max_tokens/);
  });

  it("returns no items when the answer is cut off at max_tokens before the first object ends", () => {
    expect(parseModelOutput('{"r":[{"i":1,"sp":"p', "max_tokens").items).toEqual([]);
  });

  it("reports a problem for an empty answer", () => {
    expect(parseModelOutput("", "end_turn")).toEqual({ items: [], problem: "no JSON in the answer" });
  });

  it("reports a problem for an answer with no JSON at all", () => {
    expect(parseModelOutput("I'm sorry, I can't label these texts.", "end_turn")).toEqual({ items: [], problem: "no JSON in the answer" });
  });

  it("reports a problem for a JSON value that holds no list", () => {
    expect(parseModelOutput('{"r": "none"}', "end_turn")).toEqual({ items: [], problem: "the JSON has no list of items" });
  });

  it("reads a valid answer followed by a note that mentions [brackets]", () => {
    const text = `${CLEAN}\n\nNote: text 2 uses the empty topic list [] because it names no topic.`;
    expect(parseModelOutput(text, "end_turn")).toEqual({ items: [ONE, TWO] });
  });

  it("reads a valid answer preceded by prose that mentions [brackets]", () => {
    const text = `Here are the labels for texts [1-2]:\n${CLEAN}`;
    expect(parseModelOutput(text, "end_turn")).toEqual({ items: [ONE, TWO] });
  });
});
