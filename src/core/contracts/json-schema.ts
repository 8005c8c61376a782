import { z } from "zod";
import { requestSchema } from "./request.ts";
import { resultSchema } from "./result.ts";

export const schemaNames = ["request", "result"] as const;
export type SchemaName = (typeof schemaNames)[number];

/** The JSON Schema (draft 2020-12) of the request or result message, under the default limits. */
export function contractJsonSchema(name: SchemaName): Record<string, unknown> {
  const schema = name === "request" ? requestSchema() : resultSchema;
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
  return {
    ...json,
    $id: `https://labelq.dev/schemas/v1/${name}.json`,
    title: name === "request" ? "labelq batch request (contract v1)" : "labelq batch result (contract v1)",
  };
}
