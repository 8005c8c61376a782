import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import type { RESIDENCIES } from "../config/config.ts";
import { ConfigError } from "../errors/errors.ts";
import { OUTPUT_FORMATS, type OutputFormat } from "../prompts/output-format.ts";
import { OPTIONAL_TIERS, type OptionalTier, type ServiceTier } from "./service-tiers.ts";

/**
 * The model catalogue is data: src/core/models/model-catalogue.json in the package, plus an optional
 * file named by LABELQ_MODEL_CATALOGUE whose entries add models or replace them by alias.
 * This module validates it and resolves each entry to the id to call in one geography, under
 * one residency (LABELQ_RESIDENCY, docs/residency.md).
 */

/** Where calls go: a cross-Region inference profile's geography (its id prefix), chosen from AWS_REGION unless set. */
export const GEOGRAPHIES = ["us", "eu", "apac", "global"] as const;
export type Geography = (typeof GEOGRAPHIES)[number];

/**
 * Where Bedrock may run a prompt: "region" only in the caller's Region (in-Region ids only),
 * "geography" in any Region of the geography's cross-Region profile (else in-Region),
 * "global" through a global profile where the model has one (else as "geography").
 */
export type Residency = (typeof RESIDENCIES)[number];

/** What a catalogue is resolved for besides the geography. */
export interface CatalogueScope {
  /** Default "geography". */
  residency?: Residency;
  /** The caller's Region (AWS_REGION), named in the reasons a model cannot run under "region". */
  region?: string;
}

const per1k = z.number().nonnegative();

const tokenizerSchema = z.discriminatedUnion("kind", [
  /** The model's own tokenizer (Llama 3's BPE, llama3-tokenizer-js). */
  z.object({ kind: z.literal("llama3") }),
  /** No tokenizer for the family on npm: Llama 3's count times a factor, rounded up. */
  z.object({ kind: z.literal("approximate"), basis: z.literal("llama3"), factor: z.number().min(0.5).max(3) }),
]);

const samplingParam = z.enum(["temperature", "topP"]);

/** One service tier's prices (USD per 1,000 tokens), for the global or in-Region id like the list price. */
const tierPriceSchema = z.object({ inputPer1k: per1k, outputPer1k: per1k }).strict();

/** Prices of the tiers besides default (docs: service-tiers-inference; aws.amazon.com/bedrock/pricing). */
const tierPricesSchema = z
  .object({
    flex: tierPriceSchema.optional(),
    priority: tierPriceSchema.optional(),
    asOf: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "a date as YYYY-MM-DD"),
    source: z.string().min(1),
  })
  .strict();

const modelEntrySchema = z
  .object({
    alias: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, "lower-case letters, digits, dots and dashes"),
    name: z.string().min(1),
    /** The model's name in its Service Quotas quota names, where it differs from `name`. */
    quotaName: z.string().min(1).optional(),
    family: z.string().min(1),
    /** The id per geography; inRegion is a base model id callable on-demand in the caller's own Region. */
    modelIds: z
      .object({ inRegion: z.string().min(1), us: z.string().min(1), eu: z.string().min(1), apac: z.string().min(1), global: z.string().min(1) })
      .partial()
      .strict()
      .refine((ids) => Object.keys(ids).length > 0, "at least one model id"),
    tokenizer: tokenizerSchema,
    contextTokens: z.number().int().positive(),
    maxOutputTokens: z.number().int().positive(),
    /**
     * How the model answers: "lines" (one positional line per text, the fewest output tokens) or
     * "json" (an object per text; through a forced tool where capabilities.structuredOutput is "tool").
     * Files written before the field existed mean "json".
     */
    outputFormat: z.enum(OUTPUT_FORMATS).default("json"),
    sampling: z.object({
      accepts: z.array(samplingParam),
      oneOf: z.boolean(),
      defaults: z.object({ temperature: z.number().min(0).max(1), topP: z.number().gt(0).max(1) }).partial().strict(),
    }),
    capabilities: z.object({
      toolUse: z.boolean(),
      /** toolChoice: {tool} accepted (Claude 3+, Nova; not Llama). */
      forcedTool: z.boolean(),
      /** Bedrock cachePoint accepted, and the shortest prefix it caches (shorter is silently not cached). */
      promptCache: z.object({ minPrefixTokens: z.number().int().positive() }).nullable(),
      structuredOutput: z.enum(["tool", "json_schema", "none"]),
    }),
    /**
     * Service tiers offered besides default (docs: service-tiers-inference): Converse takes
     * serviceTier flex or priority only for these. Absent: default only.
     */
    serviceTiers: z.array(z.enum(OPTIONAL_TIERS)).default([]),
    /**
     * The Regions where serviceTiers are offered (docs: service-tiers-inference, "Models and
     * regions supported by Priority and Flex service tiers"). A call sent to another Region goes
     * without the optional tier (service-tiers.ts tierFor). Absent: wherever the model answers.
     */
    tierRegions: z.array(z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d{1,2}$/, 'an AWS Region such as "us-west-2"')).min(1).optional(),
    /** Quota tokens each output token burns (Claude 4.x: 5, docs: quotas-token-burndown). */
    quota: z.object({ outputBurnDown: z.number().min(1).max(100) }),
    price: z.object({
      inputPer1k: per1k,
      outputPer1k: per1k,
      cacheReadPer1k: per1k.optional(),
      cacheWritePer1k: per1k.optional(),
      /** Added to every price when calling through a us./eu./apac. profile (Claude 4.5: ~10 % above global). */
      regionalProfilePremium: z.number().min(0).max(1).default(0),
      /** Prices on the tiers in serviceTiers; each offered tier needs one, and no other tier may have one. */
      tiers: tierPricesSchema.optional(),
      asOf: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "a date as YYYY-MM-DD"),
      source: z.string().min(1),
    }),
    /**
     * Bedrock batch inference (model invocation jobs): its prices per 1,000 tokens and the
     * fewest records a job may hold. Absent: the model has no batch inference, and no bulk path.
     */
    batch: z
      .object({
        inputPer1k: per1k,
        outputPer1k: per1k,
        minRecordsPerJob: z.number().int().positive(),
        asOf: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "a date as YYYY-MM-DD"),
        source: z.string().min(1),
      })
      .strict()
      .optional(),
    /** Where a deployed custom model (a `labelq distill deploy` student) is served, and its hourly price when it is billed by the hour. */
    hosting: z
      .object({
        kind: z.enum(["on-demand", "provisioned"]),
        arn: z.string().min(1),
        hourlyUsd: z.number().nonnegative().optional(),
        modelUnits: z.number().int().positive().optional(),
        commitment: z.enum(["none", "OneMonth", "SixMonths"]).optional(),
        source: z.string().min(1),
      })
      .strict()
      .optional(),
    /** The customization job a student came from. */
    customization: z.object({ jobName: z.string(), customModelArn: z.string(), student: z.string(), baseAlias: z.string() }).strict().optional(),
    notes: z.array(z.string()).default([]),
  })
  .superRefine((m, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
    if (m.maxOutputTokens > m.contextTokens) issue(["maxOutputTokens"], "must not exceed contextTokens");
    if (m.capabilities.forcedTool && !m.capabilities.toolUse) issue(["capabilities", "forcedTool"], "needs toolUse");
    if (m.capabilities.structuredOutput === "tool" && !m.capabilities.forcedTool) issue(["capabilities", "structuredOutput"], '"tool" needs forcedTool');
    const cachePrices = m.price.cacheReadPer1k !== undefined || m.price.cacheWritePer1k !== undefined;
    if (cachePrices && !m.capabilities.promptCache) issue(["price"], "cache prices need capabilities.promptCache");
    for (const tier of OPTIONAL_TIERS) {
      const priced = m.price.tiers?.[tier] !== undefined;
      const offered = m.serviceTiers.includes(tier);
      if (priced && !offered) issue(["price", "tiers", tier], `a ${tier} price needs "${tier}" in serviceTiers`);
      if (offered && !priced) issue(["price", "tiers", tier], `serviceTiers offers "${tier}": give its price`);
    }
    if (m.tierRegions !== undefined && m.serviceTiers.length === 0) issue(["tierRegions"], "needs serviceTiers: the Regions of tiers the model does not offer");
    for (const p of Object.keys(m.sampling.defaults)) {
      if (!m.sampling.accepts.includes(p as "temperature" | "topP")) issue(["sampling", "defaults", p], "a default for a parameter the model does not accept");
    }
    if (m.sampling.oneOf && Object.keys(m.sampling.defaults).length > 1) issue(["sampling", "defaults"], "a one-of model takes at most one default");
  });

const catalogueFileSchema = z.object({ $comment: z.string().optional(), models: z.array(modelEntrySchema).min(1) });

export type ModelEntry = z.infer<typeof modelEntrySchema>;
export type TokenizerSpec = z.infer<typeof tokenizerSchema>;

/** A catalogue entry resolved for one geography: the id to call and the prices that apply to it. */
export interface ModelSpec {
  alias: string;
  name: string;
  /** The model's name as Service Quotas writes it ("... tokens per minute for <quotaName>"). */
  quotaName: string;
  family: string;
  /** Bedrock model id or cross-Region inference profile id. */
  modelId: string;
  /** Which of the entry's ids this is. */
  idKind: Geography | "inRegion";
  tokenizer: TokenizerSpec;
  contextTokens: number;
  maxOutputTokens: number;
  outputFormat: OutputFormat;
  sampling: ModelEntry["sampling"];
  capabilities: {
    toolUse: boolean;
    forcedTool: boolean;
    /** Bedrock prompt caching (cachePoint). */
    promptCache: boolean;
    /** Shortest prefix Bedrock caches; a shorter one is silently not cached. */
    promptCacheMinTokens?: number;
    /**
     * How to force the answer into the output JSON Schema: "tool" sends it as a forced tool's
     * inputSchema; "json_schema" as Converse outputConfig; "none" relies on the prompt's
     * JSON-in-text instructions.
     */
    structuredOutput: "tool" | "json_schema" | "none";
  };
  /** Every service tier the model is served on, "default" first. */
  serviceTiers: ServiceTier[];
  /** The Regions where the optional tiers are offered; undefined: wherever the model answers. */
  tierRegions?: readonly string[];
  /** The caller's Region the catalogue was resolved for (AWS_REGION): where a call outside a quota pool goes, so the Region its tier is chosen for. */
  callerRegion?: string;
  /** Quota tokens each output token burns. */
  outputBurnDown: number;
  /** USD per 1,000 tokens for this id; `tiers` holds the flex and priority prices where offered. */
  price: {
    inputPer1k: number;
    outputPer1k: number;
    cacheReadPer1k?: number;
    cacheWritePer1k?: number;
    tiers?: Partial<Record<OptionalTier, { inputPer1k: number; outputPer1k: number }>>;
    asOf: string;
    source: string;
  };
  /** A deployed custom model billed by the hour (Provisioned Throughput): USD per hour while it exists, called or not. */
  hourlyUsd?: number;
  /** Batch inference prices for this id (USD per 1,000 tokens) and the minimum records per job; undefined: no batch inference. */
  batch?: { inputPer1k: number; outputPer1k: number; minRecordsPerJob: number; asOf: string; source: string };
  notes: string[];
}

/** The geography of an AWS Region: us-* -> us; eu-* -> eu; ap-* -> apac; anything else -> global. */
export function geographyOf(region: string): Geography {
  if (region.startsWith("us-")) return "us";
  if (region.startsWith("eu-")) return "eu";
  if (region.startsWith("ap-")) return "apac";
  return "global";
}

/** The catalogue for one geography and residency: the models with an id there, and why the others are missing. */
export class ModelCatalogue {
  readonly geography: Geography;
  readonly residency: Residency;
  readonly models: readonly ModelSpec[];
  readonly #byAlias: Map<string, ModelSpec>;
  readonly #unavailable: Map<string, string>;

  constructor(entries: readonly ModelEntry[], geography: Geography, scope: CatalogueScope = {}) {
    this.geography = geography;
    this.residency = scope.residency ?? "geography";
    const models: ModelSpec[] = [];
    const missing: ModelEntry[] = [];
    for (const entry of entries) {
      const spec = resolveEntry(entry, geography, this.residency, scope.region);
      if (spec) models.push(spec);
      else missing.push(entry);
    }
    this.models = models;
    this.#byAlias = new Map(models.map((m) => [m.alias, m]));
    const has = (entry: ModelEntry) => Object.keys(entry.modelIds).join(", ");
    const where = scope.region ?? "this Region";
    const canRun = models.map((m) => m.alias).join(", ") || "none";
    this.#unavailable = new Map(
      missing.map((entry) => [
        entry.alias,
        this.residency === "region"
          ? `${entry.alias} has no in-Region model id, so it cannot run in ${where} under LABELQ_RESIDENCY=region (it has: ${has(entry)}; models that can: ${canRun})`
          : `${entry.alias} has no model id for geography "${geography}" (it has: ${has(entry)})`,
      ]),
    );
  }

  /** The model behind an alias in this geography, or undefined. */
  find(alias: string): ModelSpec | undefined {
    return this.#byAlias.get(alias);
  }

  /** Why an alias cannot be used here: unknown, or known but without an id in this geography or residency. */
  whyNot(alias: string): string {
    return this.#unavailable.get(alias) ?? `unknown model alias "${alias}" (known: ${[...this.#byAlias.keys(), ...this.#unavailable.keys()].join(", ")})`;
  }
}

/** Which of an entry's ids to call: see Residency. */
function idKindFor(entry: ModelEntry, geography: Geography, residency: Residency): Geography | "inRegion" | undefined {
  const ids = entry.modelIds;
  if (residency === "region") return ids.inRegion ? "inRegion" : undefined;
  if (residency === "global" && ids.global) return "global";
  return ids[geography] ? geography : ids.inRegion ? "inRegion" : undefined;
}

function resolveEntry(entry: ModelEntry, geography: Geography, residency: Residency, callerRegion: string | undefined): ModelSpec | undefined {
  const idKind = idKindFor(entry, geography, residency);
  if (!idKind) return undefined;
  const { regionalProfilePremium, tiers, ...price } = entry.price;
  // The premium applies to geographic profiles only: global and in-Region ids are list price.
  const factor = idKind === "us" || idKind === "eu" || idKind === "apac" ? 1 + regionalProfilePremium : 1;
  const scale = (v: number | undefined) => (v === undefined ? undefined : v * factor);
  const promptCache = entry.capabilities.promptCache;
  return {
    alias: entry.alias,
    name: entry.name,
    quotaName: entry.quotaName ?? entry.name,
    family: entry.family,
    modelId: entry.modelIds[idKind]!,
    idKind,
    tokenizer: entry.tokenizer,
    contextTokens: entry.contextTokens,
    maxOutputTokens: entry.maxOutputTokens,
    outputFormat: entry.outputFormat,
    sampling: entry.sampling,
    capabilities: {
      toolUse: entry.capabilities.toolUse,
      forcedTool: entry.capabilities.forcedTool,
      promptCache: promptCache !== null,
      ...(promptCache ? { promptCacheMinTokens: promptCache.minPrefixTokens } : {}),
      structuredOutput: entry.capabilities.structuredOutput,
    },
    serviceTiers: ["default", ...entry.serviceTiers],
    ...(entry.tierRegions === undefined ? {} : { tierRegions: entry.tierRegions }),
    ...(callerRegion === undefined ? {} : { callerRegion }),
    outputBurnDown: entry.quota.outputBurnDown,
    price: {
      ...price,
      inputPer1k: price.inputPer1k * factor,
      outputPer1k: price.outputPer1k * factor,
      ...(price.cacheReadPer1k === undefined ? {} : { cacheReadPer1k: scale(price.cacheReadPer1k) }),
      ...(price.cacheWritePer1k === undefined ? {} : { cacheWritePer1k: scale(price.cacheWritePer1k) }),
      ...(tiers === undefined ? {} : { tiers: scaledTierPrices(tiers, factor) }),
    },
    ...(entry.batch ? { batch: { ...entry.batch, inputPer1k: entry.batch.inputPer1k * factor, outputPer1k: entry.batch.outputPer1k * factor } } : {}),
    ...(entry.hosting?.hourlyUsd === undefined ? {} : { hourlyUsd: entry.hosting.hourlyUsd }),
    notes: entry.notes,
  };
}

/** The flex and priority prices of an entry, scaled like its list price; the tiers' asOf and source stay in the file. */
function scaledTierPrices(tiers: NonNullable<ModelEntry["price"]["tiers"]>, factor: number): NonNullable<ModelSpec["price"]["tiers"]> {
  const out: NonNullable<ModelSpec["price"]["tiers"]> = {};
  for (const tier of OPTIONAL_TIERS) {
    const p = tiers[tier];
    if (p) out[tier] = { inputPer1k: p.inputPer1k * factor, outputPer1k: p.outputPer1k * factor };
  }
  return out;
}

/** A catalogue file that fails its schema: each issue names the file, the model and the field. */
export class CatalogueError extends ConfigError {
  /** The problems found, without the file name (the caller may name the setting instead). */
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(problems.map((p) => `${file}: invalid model catalogue: ${p}`));
    this.problems = problems;
  }
}

/** The packaged catalogue file. */
export const PACKAGED_CATALOGUE = fileURLToPath(new URL("./model-catalogue.json", import.meta.url));

/** Read and validate one catalogue file; throws CatalogueError. */
export function readCatalogueFile(file: string): ModelEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw new CatalogueError(file, [(error as Error).message]);
  }
  const parsed = catalogueFileSchema.safeParse(json);
  if (!parsed.success) {
    const models = (json as { models?: { alias?: unknown }[] } | null)?.models;
    throw new CatalogueError(
      file,
      parsed.error.issues.map((i) => {
        const [, index] = i.path;
        const alias = typeof index === "number" ? models?.[index]?.alias : undefined;
        return `${i.path.join(".")}${typeof alias === "string" ? ` (${alias})` : ""}: ${i.message}`;
      }),
    );
  }
  const seen = new Set<string>();
  const duplicates = parsed.data.models.filter((m) => seen.size === seen.add(m.alias).size).map((m) => m.alias);
  if (duplicates.length > 0) throw new CatalogueError(file, duplicates.map((a) => `models: alias "${a}" appears more than once`));
  return parsed.data.models;
}

/**
 * The catalogue for a geography (and residency, default "geography"): the packaged models, then
 * those of `overrideFile` (a model with an alias already present replaces it whole; a new alias adds a model).
 */
export function loadModelCatalogue(options: { geography: Geography; overrideFile?: string } & CatalogueScope): ModelCatalogue {
  const entries = new Map(readCatalogueFile(PACKAGED_CATALOGUE).map((m) => [m.alias, m]));
  if (options.overrideFile) for (const m of readCatalogueFile(options.overrideFile)) entries.set(m.alias, m);
  return new ModelCatalogue([...entries.values()], options.geography, { residency: options.residency, region: options.region });
}
