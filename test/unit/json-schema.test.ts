import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { contractJsonSchema, schemaNames } from "../../src/core/contracts/json-schema.ts";
import { SCHEMAS_DIR } from "../support/fakes.ts";

function committed(name: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(SCHEMAS_DIR, `${name}.v1.json`), "utf8"));
}

describe("contractJsonSchema and the committed schemas/", () => {
  for (const name of schemaNames) {
    it(`keeps schemas/${name}.v1.json equal to contractJsonSchema("${name}")`, () => {
      expect(
        committed(name),
        `schemas/${name}.v1.json is out of date with the zod schema in src/core/contracts: run \`npm run schema:write\` and commit the result`,
      ).toEqual(contractJsonSchema(name));
    });
  }

  it("names each schema by a v1 $id and a contract v1 title", () => {
    expect(contractJsonSchema("request")).toMatchObject({
      $id: "https://labelq.dev/schemas/v1/request.json",
      title: "labelq batch request (contract v1)",
    });
    expect(contractJsonSchema("result")).toMatchObject({
      $id: "https://labelq.dev/schemas/v1/result.json",
      title: "labelq batch result (contract v1)",
    });
  });

  it("describes the request's default limits and its closed set of fields", () => {
    const schema = contractJsonSchema("request") as {
      additionalProperties?: unknown;
      required?: string[];
      properties: { items: { minItems?: number; maxItems?: number } };
    };
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(expect.arrayContaining(["schemaVersion", "batchId", "items"]));
    expect(schema.properties.items).toMatchObject({ minItems: 1, maxItems: 100 });
  });
});
