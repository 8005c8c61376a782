import { describe, expect, it } from "vitest";
import { toSqsJson } from "../../src/adapters/sqs/sqs-json.ts";

function maxCodePoint(s: string): number {
  let max = 0;
  for (const ch of s) max = Math.max(max, ch.codePointAt(0) ?? 0);
  return max;
}

const value = {
  batchId: "b-1",
  items: [
    { id: "1", text: "Zappik charger gets hot 🔥🔥 — très chaud! 😞" },
    { id: "2", text: "math 𝔸𝔹 and CJK 漢字 and a flag 🇩🇪" },
    { id: "3", text: "noncharacters \uFFFE and \uFFFF, replacement \uFFFD, BOM \uFEFF" },
    { id: "4", text: 'quotes " backslash \\ newline \n tab \t nul \u0000' },
  ],
  n: 3,
  ok: true,
  none: null,
};

describe("toSqsJson", () => {
  it("escapes emoji and other characters beyond the BMP as \\u surrogate pairs", () => {
    const json = toSqsJson({ t: "🔥" });
    expect(json).toBe('{"t":"\\ud83d\\udd25"}');
  });

  it("escapes U+FFFE and U+FFFF, which SQS forbids", () => {
    expect(toSqsJson("\uFFFE\uFFFF")).toBe('"\\ufffe\\uffff"');
  });

  it("leaves BMP text such as accents, CJK and U+FFFD as it is", () => {
    expect(toSqsJson("très 漢字 \uFFFD")).toBe('"très 漢字 \uFFFD"');
  });

  it("writes no character above U+FFFD and no raw surrogate", () => {
    const json = toSqsJson(value);
    expect(maxCodePoint(json)).toBeLessThanOrEqual(0xfffd);
    expect(json).not.toMatch(/[\uD800-\uDFFF]/);
  });

  it("round-trips exactly through JSON.parse", () => {
    expect(JSON.parse(toSqsJson(value))).toEqual(value);
  });

  it("escapes a lone surrogate rather than writing it raw", () => {
    const json = toSqsJson({ t: "half \uD83D of an emoji" });
    expect(json).not.toMatch(/[\uD800-\uDFFF]/);
    expect(JSON.parse(json)).toEqual({ t: "half \uD83D of an emoji" });
  });

  it("writes the same JSON as JSON.stringify when there is nothing to escape", () => {
    const plain = { a: "hello", b: [1, 2], c: { d: "é" } };
    expect(toSqsJson(plain)).toBe(JSON.stringify(plain));
  });
});
