import { describe, expect, it } from "vitest";
import { createLabelCodec } from "../../src/core/taxonomy/label-codec.ts";
import { loadTaxonomy, parseTaxonomy } from "../../src/core/taxonomy/load-taxonomy.ts";
import { outputJsonSchema } from "../../src/core/taxonomy/output-json-schema.ts";
import { miniTaxonomyJson } from "../support/fakes.ts";

const mini = parseTaxonomy(JSON.stringify(miniTaxonomyJson()), "mini");
const schema = outputJsonSchema(mini);

type Schema = Record<string, unknown>;

/** The keywords Bedrock tool inputSchemas accept, and that the generator may use. */
const ALLOWED_KEYWORDS = new Set(["type", "properties", "required", "items", "enum", "minimum", "maximum", "minItems", "maxItems", "uniqueItems", "additionalProperties"]);

/** Every problem with `value` under the subset of JSON Schema the generator uses; [] when valid. */
function check(s: Schema, value: unknown, at = "$"): string[] {
  const types = s.type === undefined ? undefined : ([] as unknown[]).concat(s.type);
  if (types && !types.some((t) => hasType(value, t as string))) return [`${at}: not ${types.join("|")}`];
  const problems: string[] = [];
  if (Array.isArray(s.enum) && !s.enum.includes(value)) problems.push(`${at}: not in enum`);
  if (typeof value === "number") {
    if (typeof s.minimum === "number" && value < s.minimum) problems.push(`${at}: below minimum`);
    if (typeof s.maximum === "number" && value > s.maximum) problems.push(`${at}: above maximum`);
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === "number" && value.length < s.minItems) problems.push(`${at}: too few items`);
    if (typeof s.maxItems === "number" && value.length > s.maxItems) problems.push(`${at}: too many items`);
    if (s.uniqueItems === true && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) problems.push(`${at}: repeated item`);
    if (s.items) value.forEach((v, k) => problems.push(...check(s.items as Schema, v, `${at}[${k}]`)));
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const key of (s.required ?? []) as string[]) if (!(key in obj)) problems.push(`${at}.${key}: missing`);
    for (const [key, v] of Object.entries(obj)) {
      const sub = props[key];
      if (sub) problems.push(...check(sub, v, `${at}.${key}`));
      else if (s.additionalProperties === false) problems.push(`${at}.${key}: not allowed`);
    }
  }
  return problems;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    case "array":
      return Array.isArray(value);
    case "string":
      return typeof value === "string";
    case "integer":
      return Number.isInteger(value);
    case "null":
      return value === null;
    default:
      throw new Error(`type ${type} is not used by the generator`);
  }
}

/** Every keyword used anywhere in the schema (property names under "properties" are not keywords). */
function keywords(s: unknown, out = new Set<string>()): Set<string> {
  if (typeof s !== "object" || s === null || Array.isArray(s)) return out;
  for (const [k, v] of Object.entries(s as Schema)) {
    out.add(k);
    if (k === "properties") for (const sub of Object.values(v as Schema)) keywords(sub, out);
    else if (k === "items") keywords(v, out);
  }
  return out;
}

const VALID = { i: 1, sen: "neg", top: ["pri", "del"], q: 4, cr: 2, sar: 1, ref: 0 };
const answer = (...items: unknown[]) => ({ r: items });
const itemSchema = (s: Schema) => ((s.properties as Record<string, Schema>).r?.items ?? {}) as Schema;

describe("outputJsonSchema", () => {
  it("describes the compact answer of a taxonomy, one property per dimension code", () => {
    expect(schema).toEqual({
      type: "object",
      properties: {
        r: {
          type: "array",
          items: {
            type: "object",
            properties: {
              i: { type: "integer", minimum: 1 },
              sen: { type: "string", enum: ["pos", "neg", "neu"] },
              top: { type: "array", items: { type: "string", enum: ["pri", "qua", "del"] }, minItems: 0, maxItems: 2, uniqueItems: true },
              q: { type: ["integer", "null"], minimum: 1, maximum: 5 },
              cr: { type: "integer", minimum: 1, maximum: 3 },
              sar: { type: "integer", enum: [0, 1] },
              ref: { type: ["integer", "null"], enum: [0, 1, null] },
            },
            required: ["i", "sen", "top", "q", "cr", "sar", "ref"],
            additionalProperties: false,
          },
        },
      },
      required: ["r"],
      additionalProperties: false,
    });
  });

  it("makes every dimension of the real taxonomies a required property, and uses only the keywords tools accept", async () => {
    for (const name of ["product-feedback", "support-triage"]) {
      const taxonomy = await loadTaxonomy("prompts", name);
      const s = outputJsonSchema(taxonomy);
      const item = itemSchema(s);
      const codes = taxonomy.dimensions.map((d) => d.code);
      expect(Object.keys(item.properties as Schema), name).toEqual(["i", ...codes]);
      expect(item.required, name).toEqual(["i", ...codes]);
      expect([...keywords(s)].filter((k) => !ALLOWED_KEYWORDS.has(k)), name).toEqual([]);
      // Plain JSON: it goes over the wire as a tool's inputSchema.
      expect(JSON.parse(JSON.stringify(s))).toEqual(s);
    }
  });

  it("accepts valid answers, including nulls where a dimension allows them and an empty answer list", () => {
    expect(check(schema, answer(VALID))).toEqual([]);
    expect(check(schema, answer(VALID, { ...VALID, i: 2, top: [], q: null, ref: null }))).toEqual([]);
    expect(check(schema, answer())).toEqual([]);
  });

  it("rejects each kind of invalid value", () => {
    const invalid: [string, Record<string, unknown>][] = [
      ["unknown single label", { sen: "meh" }],
      ["unknown multi label", { top: ["pri", "xyz"] }],
      ["too many multi labels", { top: ["pri", "qua", "del"] }],
      ["repeated multi label", { top: ["pri", "pri"] }],
      ["scale below its range", { q: 0 }],
      ["scale above its range", { cr: 4 }],
      ["scale not an integer", { cr: 2.5 }],
      ["null where not allowed (scale)", { cr: null }],
      ["null where not allowed (boolean)", { sar: null }],
      ["boolean as true", { sar: true }],
      ["boolean as 2", { ref: 2 }],
      ["number 0", { i: 0 }],
      ["number as a string", { i: "1" }],
      ["unknown key", { extra: 1 }],
    ];
    for (const [what, change] of invalid) expect(check(schema, answer({ ...VALID, ...change })), what).not.toEqual([]);
    const withoutSarcasm: Record<string, unknown> = { ...VALID };
    delete withoutSarcasm.sar;
    expect(check(schema, answer(withoutSarcasm))).toEqual(["$.r[0].sar: missing"]);
    expect(check(schema, {})).toEqual(["$.r: missing"]);
    expect(check(schema, { r: [], note: "hi" })).toEqual(["$.note: not allowed"]);
  });

  it("agrees with the label codec: what the schema allows, the codec accepts", () => {
    const codec = createLabelCodec(mini);
    const candidates: Record<string, unknown[]> = {
      sen: ["pos", "neu", "bad", null, 1],
      top: [[], ["qua"], ["pri", "del"], ["pri", "pri"], ["pri", "qua", "del"], "pri"],
      q: [1, 5, 0, 6, null, 3.5],
      cr: [1, 3, 4, null],
      sar: [0, 1, 2, null, true],
      ref: [0, 1, null, "1"],
    };
    for (const [code, values] of Object.entries(candidates)) {
      for (const value of values) {
        const { i, ...rest } = { ...VALID, [code]: value };
        const bySchema = check(schema, answer({ i, ...rest })).length === 0;
        const byCodec = codec.decode(rest).ok;
        // The codec also reads true/false for booleans; the schema asks for 1/0 only.
        if (typeof value === "boolean") expect(bySchema, `${code}=${JSON.stringify(value)}`).toBe(false);
        else expect(bySchema, `${code}=${JSON.stringify(value)}`).toBe(byCodec);
      }
    }
  });
});
