import type { Command } from "commander";
import fs from "node:fs";
import path from "node:path";
import { contractJsonSchema, schemaNames, type SchemaName } from "../core/contracts/json-schema.ts";
import { packageRoot } from "./package-root.ts";

/** Add `labelq schema request|result|write`: the wire contract's JSON Schema. */
export function registerSchemaCommand(program: Command): void {
  const schema = program.command("schema").description("JSON Schema of the wire contract (v1).");
  schema
    .command("request")
    .description("print the request message schema")
    .action(() => void process.stdout.write(JSON.stringify(contractJsonSchema("request"), null, 2) + "\n"));
  schema
    .command("result")
    .description("print the result message schema")
    .action(() => void process.stdout.write(JSON.stringify(contractJsonSchema("result"), null, 2) + "\n"));
  schema
    .command("write")
    .description("write both schemas to schemas/ (committed; a test checks they match the code)")
    .action(() => {
      for (const name of schemaNames) writeSchema(name);
    });
}

function writeSchema(name: SchemaName): void {
  const file = path.join(packageRoot, "schemas", `${name}.v1.json`);
  fs.writeFileSync(file, JSON.stringify(contractJsonSchema(name), null, 2) + "\n");
  process.stderr.write(`wrote ${file}\n`);
}
