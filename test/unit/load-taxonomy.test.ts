import { describe, expect, it } from "vitest";
import { TaxonomyError } from "../../src/core/errors/errors.ts";
import { loadTaxonomy, parseTaxonomy } from "../../src/core/taxonomy/load-taxonomy.ts";
import { PROMPTS_DIR, caught, miniTaxonomyJson, rejection, type RawTaxonomy } from "../support/fakes.ts";

const SOURCE = "prompts/mini/taxonomy.json";

/** The TaxonomyError parseTaxonomy throws for a modified mini taxonomy. */
function invalid(edit: (t: RawTaxonomy) => void): TaxonomyError {
  const t = miniTaxonomyJson();
  edit(t);
  return invalidText(JSON.stringify(t));
}

function invalidText(raw: string): TaxonomyError {
  const error = caught(() => parseTaxonomy(raw, SOURCE));
  expect(error).toBeInstanceOf(TaxonomyError);
  const e = error as TaxonomyError;
  expect(e.code).toBe("TAXONOMY_INVALID");
  expect(e.retryable).toBe(false);
  expect(e.message.startsWith(`${SOURCE}: `), `message names the file: ${e.message}`).toBe(true);
  return e;
}

function dim(t: RawTaxonomy, key: string): Record<string, unknown> {
  const d = t.dimensions.find((x) => x.key === key);
  if (!d) throw new Error(`no dimension ${key}`);
  return d;
}

function labelsOf(d: Record<string, unknown>): Record<string, unknown>[] {
  return d.labels as Record<string, unknown>[];
}

describe("loadTaxonomy", () => {
  it("loads the shipped product-feedback taxonomy", async () => {
    const t = await loadTaxonomy(PROMPTS_DIR, "product-feedback");
    expect(t.name).toBe("product-feedback");
    expect(t.dimensions.length).toBe(25);
    expect(t.dimensions.map((d) => d.kind)).toEqual(expect.arrayContaining(["single", "multi", "scale", "boolean"]));
  });

  it("loads the shipped support-triage taxonomy", async () => {
    const t = await loadTaxonomy(PROMPTS_DIR, "support-triage");
    expect(t.name).toBe("support-triage");
    expect(t.dimensions.map((d) => d.key)).toEqual(["category", "priority", "needs_human", "products_mentioned"]);
  });

  it("rejects an unknown taxonomy with TAXONOMY_NOT_FOUND naming it", async () => {
    const error = await rejection(loadTaxonomy(PROMPTS_DIR, "no-such-taxonomy"));
    expect(error).toBeInstanceOf(TaxonomyError);
    expect((error as TaxonomyError).code).toBe("TAXONOMY_NOT_FOUND");
    expect((error as TaxonomyError).message).toContain('"no-such-taxonomy"');
  });

  it("rejects a name that is not kebab-case (no path traversal) with TAXONOMY_NOT_FOUND", async () => {
    for (const name of ["../prompts/product-feedback", "Product-Feedback", "product_feedback", ""]) {
      const error = await rejection(loadTaxonomy(PROMPTS_DIR, name));
      expect((error as TaxonomyError).code, name).toBe("TAXONOMY_NOT_FOUND");
    }
  });
});

describe("parseTaxonomy", () => {
  it("accepts the mini taxonomy and fills the defaults", () => {
    const t = parseTaxonomy(JSON.stringify(miniTaxonomyJson()), SOURCE);
    const credibility = t.dimensions.find((d) => d.key === "credibility");
    expect(credibility).toMatchObject({ kind: "scale", nullable: false, examples: [], edgeCases: [] });
    const sarcasm = t.dimensions.find((d) => d.key === "sarcasm");
    expect(sarcasm).toMatchObject({ kind: "boolean", nullable: false });
  });

  it("rejects invalid JSON, naming the file", () => {
    expect(invalidText('{"name": "mini",').message).toMatch(/^prompts\/mini\/taxonomy\.json: not valid JSON \(/);
  });

  it("rejects a bad dimension code, naming the dimension key and the code rule", () => {
    const e = invalid((t) => (dim(t, "topics").code = "Topics"));
    expect(e.message).toContain('dimension "topics" (code)');
    expect(e.message).toContain("a code is 1-4 lowercase letters/digits");
  });

  it("rejects a bad label code, naming the dimension and the label's path", () => {
    const e = invalid((t) => {
      const l = labelsOf(dim(t, "sentiment"))[1];
      if (l) l.code = "toolong";
    });
    expect(e.message).toContain('dimension "sentiment" (labels.1.code)');
  });

  it("rejects two dimensions with the same code, naming the second", () => {
    const e = invalid((t) => (dim(t, "credibility").code = "q"));
    expect(e.message).toContain('dimension "credibility": code "q" is already used by another dimension');
  });

  it("rejects a dimension that uses the reserved code i", () => {
    expect(invalid((t) => (dim(t, "sarcasm").code = "i")).message).toContain('dimension "sarcasm": code "i" is reserved');
  });

  it("rejects two dimensions with the same key", () => {
    expect(invalid((t) => (dim(t, "credibility").key = "quality")).message).toContain('dimension "quality": duplicate key');
  });

  it("rejects a duplicate label code within a dimension, naming the dimension and the code", () => {
    const e = invalid((t) => {
      const l = labelsOf(dim(t, "sentiment"))[2];
      if (l) l.code = "pos";
    });
    expect(e.message).toContain('dimension "sentiment": label code "pos" is used twice');
  });

  it("rejects a duplicate label name within a dimension", () => {
    const e = invalid((t) => {
      const l = labelsOf(dim(t, "topics"))[2];
      if (l) l.name = "price";
    });
    expect(e.message).toContain('dimension "topics": duplicate label "price"');
  });

  it("rejects an example whose label is not one of the dimension's labels, naming both", () => {
    const e = invalid((t) => (dim(t, "sentiment").examples = [{ text: "Meh.", label: "lukewarm" }]));
    expect(e.message).toContain('dimension "sentiment": example label "lukewarm" is not one of its labels');
  });

  it("rejects a multi-label example that uses an unknown label", () => {
    const e = invalid((t) => (dim(t, "topics").examples = [{ text: "x", label: ["price", "colour"] }]));
    expect(e.message).toContain('dimension "topics": example label "colour" is not one of its labels');
  });

  it("rejects a scale example out of range, naming the dimension and the range", () => {
    const e = invalid((t) => (dim(t, "credibility").examples = [{ text: "x", label: 4 }]));
    expect(e.message).toContain('dimension "credibility": example label 4 is outside 1..3');
  });

  it("rejects a null scale example when the scale is not nullable, and accepts it when it is", () => {
    expect(invalid((t) => (dim(t, "credibility").examples = [{ text: "x", label: null }])).message).toContain(
      'dimension "credibility": example label null is outside 1..3',
    );
    const t = miniTaxonomyJson();
    dim(t, "quality").examples = [{ text: "x", label: null }];
    expect(() => parseTaxonomy(JSON.stringify(t), SOURCE)).not.toThrow();
  });

  it("rejects a scale anchor out of range and a scale whose min is not below its max", () => {
    expect(invalid((t) => (dim(t, "quality").anchors = [{ value: 0, description: "x" }, { value: 5, description: "y" }])).message).toContain(
      'dimension "quality": anchor 0 is outside 1..5',
    );
    expect(invalid((t) => (dim(t, "credibility").min = 3)).message).toContain('dimension "credibility": min (3) must be below max (3)');
  });

  it("rejects a boolean example that is not a boolean", () => {
    expect(invalid((t) => (dim(t, "sarcasm").examples = [{ text: "x", label: 1 }])).message).toContain(
      'dimension "sarcasm": example label 1 is not a boolean',
    );
  });

  it("rejects maxItems greater than the number of labels, naming the dimension", () => {
    const e = invalid((t) => (dim(t, "topics").maxItems = 4));
    expect(e.message).toContain('dimension "topics": maxItems must be between minItems (0) and the number of labels (3)');
  });

  it("rejects maxItems below minItems", () => {
    const e = invalid((t) => {
      dim(t, "topics").minItems = 2;
      dim(t, "topics").maxItems = 1;
    });
    expect(e.message).toContain('dimension "topics": maxItems must be between minItems (2)');
  });

  it("rejects an unknown kind, naming the dimension", () => {
    expect(invalid((t) => (dim(t, "sarcasm").kind = "yesno")).message).toContain('dimension "sarcasm"');
  });

  it("rejects a taxonomy without dimensions and a name that is not kebab-case", () => {
    expect(invalid((t) => (t.dimensions = [])).message).toContain("dimensions:");
    expect(invalid((t) => (t.name = "Mini Tax")).message).toContain("name: taxonomy names are kebab-case");
  });

  it("lists every problem of the file in one error", () => {
    const e = invalid((t) => {
      dim(t, "credibility").code = "q";
      dim(t, "topics").maxItems = 9;
    });
    expect(e.message).toContain('dimension "credibility"');
    expect(e.message).toContain('dimension "topics"');
  });
});
