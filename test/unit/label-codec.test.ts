import { describe, expect, it } from "vitest";
import { createLabelCodec, type DecodedItem } from "../../src/core/taxonomy/label-codec.ts";
import { parseTaxonomy } from "../../src/core/taxonomy/load-taxonomy.ts";
import { miniTaxonomyJson } from "../support/fakes.ts";

const codec = createLabelCodec(parseTaxonomy(JSON.stringify(miniTaxonomyJson()), "mini"));

/** A valid compact answer for every dimension of the mini taxonomy. */
const VALID = { sen: "neg", top: ["pri", "del"], q: 4, cr: 2, sar: 1, ref: 0 };

function decode(overrides: Record<string, unknown>): DecodedItem {
  return codec.decode({ ...VALID, ...overrides });
}

function issues(overrides: Record<string, unknown>): string[] {
  const d = decode(overrides);
  if (d.ok) throw new Error(`expected ${JSON.stringify(overrides)} to be rejected`);
  return d.issues;
}

function without(key: string): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...VALID };
  delete copy[key];
  return copy;
}

describe("createLabelCodec(...).decode", () => {
  it("decodes codes into dimension keys and label names", () => {
    expect(codec.decode(VALID)).toEqual({
      ok: true,
      labels: { sentiment: "negative", topics: ["price", "delivery"], quality: 4, credibility: 2, sarcasm: true, refund_wanted: false },
    });
  });

  it("decodes a single code to its label name", () => {
    expect(decode({ sen: "neu" })).toMatchObject({ ok: true, labels: { sentiment: "neutral" } });
  });

  it("decodes multi codes to names in the order given, and an empty list to []", () => {
    expect(decode({ top: ["del", "qua"] })).toMatchObject({ ok: true, labels: { topics: ["delivery", "quality"] } });
    expect(decode({ top: [] })).toMatchObject({ ok: true, labels: { topics: [] } });
  });

  it("keeps a scale integer and decodes null when the scale is nullable", () => {
    expect(decode({ q: 1, cr: 3 })).toMatchObject({ ok: true, labels: { quality: 1, credibility: 3 } });
    expect(decode({ q: null })).toMatchObject({ ok: true, labels: { quality: null } });
  });

  it("decodes boolean 1/0 and true/false to booleans", () => {
    expect(decode({ sar: 1, ref: 0 })).toMatchObject({ ok: true, labels: { sarcasm: true, refund_wanted: false } });
    expect(decode({ sar: 0, ref: 1 })).toMatchObject({ ok: true, labels: { sarcasm: false, refund_wanted: true } });
    expect(decode({ sar: true, ref: false })).toMatchObject({ ok: true, labels: { sarcasm: true, refund_wanted: false } });
    expect(decode({ sar: false })).toMatchObject({ ok: true, labels: { sarcasm: false } });
  });

  it("decodes a null boolean to null when the dimension is nullable", () => {
    expect(decode({ ref: null })).toMatchObject({ ok: true, labels: { refund_wanted: null } });
  });

  it("rejects an unknown single code, naming the dimension key", () => {
    const found = issues({ sen: "happy" });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^sentiment: /);
  });

  it("rejects a full label name where a code is expected", () => {
    expect(issues({ sen: "negative" })[0]).toMatch(/^sentiment: /);
  });

  it("rejects an unknown multi code", () => {
    expect(issues({ top: ["pri", "xyz"] })[0]).toMatch(/^topics: /);
  });

  it("rejects a repeated multi label", () => {
    expect(issues({ top: ["pri", "pri"] })).toEqual(["topics: repeated label"]);
  });

  it("rejects more multi labels than maxItems", () => {
    expect(issues({ top: ["pri", "qua", "del"] })[0]).toMatch(/^topics: /);
  });

  it("rejects a multi value that is a single code instead of a list", () => {
    expect(issues({ top: "pri" })[0]).toMatch(/^topics: /);
  });

  it("rejects a scale value out of range and a non-integer scale value", () => {
    expect(issues({ q: 6 })[0]).toMatch(/^quality: /);
    expect(issues({ q: 0 })[0]).toMatch(/^quality: /);
    expect(issues({ q: 2.5 })[0]).toMatch(/^quality: /);
    expect(issues({ cr: 4 })[0]).toMatch(/^credibility: /);
  });

  it("rejects a scale value written as a string", () => {
    expect(issues({ q: "4" })[0]).toMatch(/^quality: /);
  });

  it("rejects null when the dimension is not nullable", () => {
    expect(issues({ cr: null })[0]).toMatch(/^credibility: /);
    expect(issues({ sar: null })[0]).toMatch(/^sarcasm: /);
  });

  it("rejects a boolean written as a string or as another number", () => {
    expect(issues({ sar: "true" })[0]).toMatch(/^sarcasm: /);
    expect(issues({ sar: "1" })[0]).toMatch(/^sarcasm: /);
    expect(issues({ sar: 2 })[0]).toMatch(/^sarcasm: /);
  });

  it("rejects a missing key, naming the dimension", () => {
    const d = codec.decode(without("cr"));
    expect(d).toEqual({ ok: false, issues: ["credibility: missing"] });
  });

  it("reports every bad dimension of one text, not only the first", () => {
    expect(issues({ sen: "x", q: 9, sar: "no" }).map((i) => i.split(":")[0])).toEqual(["sentiment", "quality", "sarcasm"]);
  });

  it("ignores extra unknown keys: they never appear in the labels", () => {
    const d = codec.decode({ ...VALID, zz: "pos", sentiment: "positive", i: 7, note: "ignore all rules" });
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(Object.keys(d.labels).sort()).toEqual(["credibility", "quality", "refund_wanted", "sarcasm", "sentiment", "topics"]);
    expect(d.labels.sentiment).toBe("negative");
  });

  it("rejects a value that is not an object", () => {
    for (const raw of [null, [VALID], "sen=pos", 3]) expect(codec.decode(raw)).toEqual({ ok: false, issues: ["not an object"] });
  });
});
