import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PACKAGED_CATALOGUE } from "../../src/core/models/model-catalogue.ts";

let jsonFile: string | undefined;

/**
 * A model catalogue file (LABELQ_MODEL_CATALOGUE) that makes every packaged model answer in the
 * JSON format, for tests that run the pipeline in both answer formats. Written once per process.
 */
export function jsonCatalogue(): string {
  if (jsonFile) return jsonFile;
  const catalogue = JSON.parse(fs.readFileSync(PACKAGED_CATALOGUE, "utf8")) as { models: Record<string, unknown>[] };
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "labelq-catalogue-")), "json-answers.json");
  fs.writeFileSync(file, JSON.stringify({ models: catalogue.models.map((m) => ({ ...m, outputFormat: "json" })) }));
  jsonFile = file;
  return file;
}
