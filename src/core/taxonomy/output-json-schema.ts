import type { Dimension, Taxonomy } from "./taxonomy-schema.ts";

type JsonSchema = Record<string, unknown>;

// Draft 2020-12 compatible, but kept to the keywords Bedrock tool inputSchemas are known to
// accept (type, properties, required, items, enum, minimum, maximum, minItems, maxItems,
// uniqueItems, additionalProperties): no $schema, $ref, oneOf or descriptions. The label codec
// still validates every item, because a schema steers a model but does not bind it.

/** JSON Schema of the compact answer `{"r":[{"i":1, <code>: ...}]}` for a taxonomy (a tool's inputSchema). */
export function outputJsonSchema(taxonomy: Taxonomy): JsonSchema {
  const properties: Record<string, JsonSchema> = { i: { type: "integer", minimum: 1 } };
  for (const d of taxonomy.dimensions) properties[d.code] = valueSchema(d);
  const item: JsonSchema = {
    type: "object",
    properties,
    required: Object.keys(properties),
    additionalProperties: false,
  };
  return {
    type: "object",
    properties: { r: { type: "array", items: item } },
    required: ["r"],
    additionalProperties: false,
  };
}

function valueSchema(d: Dimension): JsonSchema {
  switch (d.kind) {
    case "single":
      return { type: "string", enum: d.labels.map((l) => l.code) };
    case "multi":
      return {
        type: "array",
        items: { type: "string", enum: d.labels.map((l) => l.code) },
        minItems: d.minItems,
        maxItems: d.maxItems,
        uniqueItems: true,
      };
    case "scale":
      // minimum/maximum constrain numbers only, so null stays valid when it is allowed.
      return { type: d.nullable ? ["integer", "null"] : "integer", minimum: d.min, maximum: d.max };
    case "boolean":
      // 1/0 as the prompt asks; the codec also reads true/false, but the schema asks for one form.
      return d.nullable ? { type: ["integer", "null"], enum: [0, 1, null] } : { type: "integer", enum: [0, 1] };
  }
}
