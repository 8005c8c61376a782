import { describe, expect, it } from "vitest";
import {
  canonicalJson,
  compareDimensionHashes,
  dimensionHashes,
  promptContextHash,
  taxonomyHash,
  type ContentHash,
} from "../../src/core/taxonomy/dimension-hashes.ts";
import { loadTaxonomy, parseTaxonomy } from "../../src/core/taxonomy/load-taxonomy.ts";
import type { Taxonomy } from "../../src/core/taxonomy/taxonomy-schema.ts";
import { PROMPTS_DIR, miniTaxonomyJson, type RawTaxonomy } from "../support/fakes.ts";

/** The mini taxonomy after `edit`, parsed as the loader parses a file. */
function mini(edit: (t: RawTaxonomy) => void = () => {}): Taxonomy {
  const raw = miniTaxonomyJson();
  edit(raw);
  return parseTaxonomy(JSON.stringify(raw), "mini/taxonomy.json");
}

function dim(t: RawTaxonomy, key: string): Record<string, unknown> {
  const d = t.dimensions.find((x) => x.key === key);
  if (!d) throw new Error(`no dimension ${key}`);
  return d;
}

function items(d: Record<string, unknown>, field: string): Record<string, unknown>[] {
  return d[field] as Record<string, unknown>[];
}

/** Deep copy with every object's keys in reverse order. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.keys(value).reverse().map((k) => [k, reverseKeys((value as Record<string, unknown>)[k])]));
}

/** Keys whose hash differs between two hash records. */
function changedKeys(a: Record<string, ContentHash>, b: Record<string, ContentHash>): string[] {
  return Object.keys(a).filter((k) => a[k] !== b[k]);
}

const base = mini();
const baseHashes = dimensionHashes(base);

describe("dimensionHashes", () => {
  it("gives every dimension key a sha256 hash, and different dimensions different hashes", () => {
    expect(Object.keys(baseHashes)).toEqual(base.dimensions.map((d) => d.key));
    for (const h of Object.values(baseHashes)) expect(h).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(new Set(Object.values(baseHashes)).size).toBe(base.dimensions.length);
  });

  it("does not change when the file's keys are reordered and it is reformatted", () => {
    const reordered = parseTaxonomy(JSON.stringify(reverseKeys(miniTaxonomyJson()), null, 4), "mini/taxonomy.json");
    expect(dimensionHashes(reordered)).toEqual(baseHashes);
    expect(taxonomyHash(reordered)).toBe(taxonomyHash(base));
  });

  it("does not depend on the key order of the taxonomy object itself", () => {
    // Built without the schema, so nothing but the hashing puts the keys back in order.
    const reordered = reverseKeys(base) as Taxonomy;
    expect(JSON.stringify(reordered)).not.toBe(JSON.stringify(base));
    expect(dimensionHashes(reordered)).toEqual(baseHashes);
    expect(taxonomyHash(reordered)).toBe(taxonomyHash(base));
  });

  it("treats a default written out the same as a default left out", () => {
    const explicit = mini((t) => {
      Object.assign(dim(t, "credibility"), { nullable: false, examples: [], edgeCases: [] });
      Object.assign(dim(t, "sarcasm"), { nullable: false });
    });
    expect(dimensionHashes(explicit)).toEqual(baseHashes);
  });

  it("ignores keys the schema does not know, since they never reach the prompt", () => {
    const annotated = mini((t) => Object.assign(dim(t, "sentiment"), { comment: "reviewed by the data team" }));
    expect(dimensionHashes(annotated)).toEqual(baseHashes);
  });

  it("changes only the edited dimension's hash when one definition changes", () => {
    const edited = mini((t) => (dim(t, "sentiment").definition = "Overall attitude toward the brand."));
    expect(changedKeys(baseHashes, dimensionHashes(edited))).toEqual(["sentiment"]);
    expect(taxonomyHash(edited)).not.toBe(taxonomyHash(base));
  });

  it("changes the hash of a dimension that gains a label, and of no other", () => {
    const edited = mini((t) => items(dim(t, "topics"), "labels").push({ name: "battery", code: "bat", description: "Battery life." }));
    expect(changedKeys(baseHashes, dimensionHashes(edited))).toEqual(["topics"]);
  });

  it.each<[string, string, (t: RawTaxonomy) => void]>([
    ["a label description", "sentiment", (t) => (items(dim(t, "sentiment"), "labels")[2]!.description = "Neither, or no opinion.")],
    ["a label code", "sentiment", (t) => (items(dim(t, "sentiment"), "labels")[2]!.code = "neut")],
    ["the order of labels", "sentiment", (t) => items(dim(t, "sentiment"), "labels").reverse()],
    ["maxItems", "topics", (t) => (dim(t, "topics").maxItems = 3)],
    ["minItems", "topics", (t) => (dim(t, "topics").minItems = 1)],
    ["the scale range", "quality", (t) => (dim(t, "quality").min = 0)],
    ["an anchor", "quality", (t) => (items(dim(t, "quality"), "anchors")[1]!.description = "Outstanding.")],
    ["nullable", "credibility", (t) => (dim(t, "credibility").nullable = true)],
    ["an example's label", "quality", (t) => (items(dim(t, "quality"), "examples")[0]!.label = 5)],
    ["an example's explanation", "sarcasm", (t) => (items(dim(t, "sarcasm"), "examples")[0]!.why = "Mock praise.")],
    ["an edge case added", "sarcasm", (t) => (dim(t, "sarcasm").edgeCases = ["Playful humour is false."])],
    ["the title", "quality", (t) => (dim(t, "quality").title = "Build quality")],
    ["the dimension code", "quality", (t) => (dim(t, "quality").code = "qu")],
    ["the kind", "sarcasm", (t) => Object.assign(dim(t, "sarcasm"), { kind: "scale", min: 0, max: 1, anchors: [{ value: 0, description: "No." }, { value: 1, description: "Yes." }], examples: [] })],
  ])("changes when %s changes (%s)", (_what, key, edit) => {
    expect(changedKeys(baseHashes, dimensionHashes(mini(edit)))).toEqual([key]);
  });

  it("keeps each dimension's hash when dimensions are reordered, while the taxonomy hash changes", () => {
    const reordered = mini((t) => t.dimensions.reverse());
    expect(dimensionHashes(reordered)).toEqual(baseHashes);
    expect(taxonomyHash(reordered)).not.toBe(taxonomyHash(base));
  });

  it("leaves dimension hashes alone when only the taxonomy's description changes, but not the taxonomy hash", () => {
    const edited = mini((t) => (t.description = "Another description."));
    expect(dimensionHashes(edited)).toEqual(baseHashes);
    expect(taxonomyHash(edited)).not.toBe(taxonomyHash(base));
  });

  it("hashes the shipped product-feedback taxonomy the same on every load", async () => {
    const [a, b] = await Promise.all([loadTaxonomy(PROMPTS_DIR, "product-feedback"), loadTaxonomy(PROMPTS_DIR, "product-feedback")]);
    expect(Object.keys(dimensionHashes(a))).toHaveLength(25);
    expect(dimensionHashes(b)).toEqual(dimensionHashes(a));
    expect(taxonomyHash(b)).toBe(taxonomyHash(a));
  });
});

describe("compareDimensionHashes", () => {
  it("sorts keys into unchanged, changed, added and removed", () => {
    const h = (c: string): ContentHash => `sha256:${c.repeat(64)}`;
    const result = compareDimensionHashes({ a: h("1"), b: h("2"), c: h("3") }, { a: h("1"), b: h("9"), d: h("4") });
    expect(result).toEqual({ unchanged: ["a"], changed: ["b"], added: ["d"], removed: ["c"] });
  });

  it("reports every dimension unchanged for two loads of one taxonomy", () => {
    expect(compareDimensionHashes(baseHashes, dimensionHashes(mini()))).toEqual({ unchanged: Object.keys(baseHashes), changed: [], added: [], removed: [] });
  });
});

describe("canonicalJson", () => {
  it("sorts object keys at every level, keeps array order and drops undefined members", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1, { z: 0, y: 1 }], c: undefined } })).toBe('{"a":{"d":[3,1,{"y":1,"z":0}]},"b":1}');
  });
});

describe("promptContextHash", () => {
  const template = "You annotate {{taxonomy.title}}.\n\n{{dimensions}}\n\n{{output_format}}";

  it("changes with the template text, the title or the description", () => {
    const h = promptContextHash(base, template);
    expect(h).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(promptContextHash(base, `${template}\nSpam: label it consistently.`)).not.toBe(h);
    expect(promptContextHash(mini((t) => (t.title = "Other title")), template)).not.toBe(h);
    expect(promptContextHash(mini((t) => (t.description = "Prefer null to guessing.")), template)).not.toBe(h);
  });

  it("does not change with the dimensions, which have their own hashes", () => {
    const edited = mini((t) => (dim(t, "sentiment").definition = "Overall attitude toward the brand."));
    expect(promptContextHash(edited, template)).toBe(promptContextHash(base, template));
  });
});
