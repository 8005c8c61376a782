import fs from "node:fs/promises";
import { InvalidRequestError } from "../../core/errors/errors.ts";
import { readJsonFile, writeJsonFile } from "./json-file.ts";
import { type ModelEntry, PACKAGED_CATALOGUE, readCatalogueFile } from "../../core/models/model-catalogue.ts";

/**
 * The catalogue entry of a deployed student, merged into a JSON file that LABELQ_MODEL_CATALOGUE
 * loads over the packaged catalogue (a new alias adds a model; the same alias replaces it). The
 * student answers like its base model: tokenizer, context, output cap, sampling and capabilities
 * are the base model's catalogue entry's, in the lines format it was trained on.
 */

/** Where a student is served and what that costs by the hour (provisioned) or by the token (on demand). */
export interface StudentHosting {
  kind: "on-demand" | "provisioned";
  /** The deployment or provisioned model ARN: the modelId labelq calls. */
  arn: string;
  /** Provisioned only: model units times the hourly price per unit given on the command line. */
  hourlyUsd?: number;
  modelUnits?: number;
  commitment?: "OneMonth" | "SixMonths";
}

/** What the entry is built from. */
export interface StudentEntryInput {
  alias: string;
  /** The student alias of `distill start` (nova-micro, llama3.1-8b, ...). */
  student: string;
  jobName: string;
  customModelArn: string;
  hosting: StudentHosting;
  /** The packaged catalogue alias the student's limits are copied from, and why when it is a stand-in. */
  baseAlias: string;
  baseNote?: string;
  /** YYYY-MM-DD the entry is written. */
  asOf: string;
}

// Custom Nova on demand is "charged based on usage, measured in tokens, both in and out" (Nova user
// guide, custom-fine-tune-odi); the rates are on the pricing page, read here only as the base model's.
const ON_DEMAND_SOURCE =
  "https://docs.aws.amazon.com/nova/latest/userguide/custom-fine-tune-odi.html (custom Nova on demand is billed per input and output token); " +
  "rates: https://aws.amazon.com/bedrock/pricing/ - taken as the base model's per-token price, unconfirmed for custom models";
// "pricing is the same as the base model that it was customized from" (per model unit and hour), userguide prov-throughput.
const PROVISIONED_SOURCE =
  "https://docs.aws.amazon.com/bedrock/latest/userguide/prov-throughput.html (billed hourly per model unit; a custom model is priced as its base model); " +
  "hourly price per model unit as given to labelq distill deploy --unit-hourly-usd (AWS shows it in the Bedrock console, not in its docs)";

/** The packaged catalogue's entry for an alias, or undefined. */
export function packagedEntry(alias: string): ModelEntry | undefined {
  return readCatalogueFile(PACKAGED_CATALOGUE).find((m) => m.alias === alias);
}

/**
 * The overlay entry for a deployed student, in the catalogue schema (src/core/models/model-catalogue.ts),
 * which keeps `hosting` (where it is served, its hourly price) and `customization` (the job it came from).
 */
export function studentCatalogueEntry(input: StudentEntryInput, base: ModelEntry): Record<string, unknown> {
  const { hosting } = input;
  const provisioned = hosting.kind === "provisioned";
  const notes = [
    `Student ${input.student} trained by customization job ${input.jobName} (custom model ${input.customModelArn}), served by ${provisioned ? "Provisioned Throughput" : "a custom model deployment (on demand)"}.`,
    ...(input.baseNote === undefined ? [] : [input.baseNote]),
    "Prompt caching on a deployed custom model is not confirmed: off for the student.",
    ...(provisioned ? [`Billed ${hosting.hourlyUsd ?? "?"} USD an hour while it exists, used or not (hosting.hourlyUsd); per-token price 0.`] : []),
  ];
  return {
    alias: input.alias,
    name: `${base.name} student (${input.jobName})`,
    family: base.family,
    modelIds: { inRegion: hosting.arn },
    tokenizer: base.tokenizer,
    contextTokens: base.contextTokens,
    maxOutputTokens: base.maxOutputTokens,
    outputFormat: "lines",
    sampling: base.sampling,
    capabilities: { ...base.capabilities, promptCache: null },
    quota: base.quota,
    price: {
      inputPer1k: provisioned ? 0 : base.price.inputPer1k,
      outputPer1k: provisioned ? 0 : base.price.outputPer1k,
      asOf: input.asOf,
      source: provisioned ? PROVISIONED_SOURCE : ON_DEMAND_SOURCE,
    },
    hosting: {
      kind: hosting.kind,
      arn: hosting.arn,
      ...(hosting.hourlyUsd === undefined ? {} : { hourlyUsd: hosting.hourlyUsd }),
      ...(hosting.modelUnits === undefined ? {} : { modelUnits: hosting.modelUnits }),
      ...(provisioned ? { commitment: hosting.commitment ?? "none" } : {}),
      source: provisioned ? PROVISIONED_SOURCE : ON_DEMAND_SOURCE,
    },
    customization: { jobName: input.jobName, customModelArn: input.customModelArn, student: input.student, baseAlias: input.baseAlias },
    notes,
  };
}

interface CatalogueFile {
  $comment?: string;
  models: Record<string, unknown>[];
}

async function readOverlay(file: string): Promise<CatalogueFile | undefined> {
  const parsed = await readJsonFile(file);
  if (parsed === undefined) return undefined;
  if (typeof parsed !== "object" || parsed === null || !Array.isArray((parsed as CatalogueFile).models)) {
    throw new InvalidRequestError(`${file} is not a model catalogue file ({"models": [...]})`);
  }
  return parsed as CatalogueFile;
}

// Written to a temporary file and renamed: a worker reading the file sees the old catalogue or the new one.
const writeOverlay = (file: string, catalogue: CatalogueFile) => writeJsonFile(file, catalogue);

/** Adds the entry to the catalogue file (created when absent), replacing an entry with the same alias; other entries stay. */
export async function mergeIntoCatalogue(file: string, entry: Record<string, unknown>): Promise<void> {
  const existing = (await readOverlay(file)) ?? { $comment: "Models added over the packaged catalogue (LABELQ_MODEL_CATALOGUE); students written by labelq distill deploy.", models: [] };
  const models = existing.models.filter((m) => m.alias !== entry.alias);
  await writeOverlay(file, { ...existing, models: [...models, entry] });
}

/** Removes an alias from the catalogue file; true when it was there. A file left with no model is deleted (the loader needs at least one). */
export async function removeFromCatalogue(file: string, alias: string): Promise<boolean> {
  const existing = await readOverlay(file);
  if (existing === undefined) return false;
  const models = existing.models.filter((m) => m.alias !== alias);
  if (models.length === existing.models.length) return false;
  if (models.length === 0) await fs.rm(file);
  else await writeOverlay(file, { ...existing, models });
  return true;
}
