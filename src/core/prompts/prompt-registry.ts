import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { TaxonomyError } from "../errors/errors.ts";
import { createLabelCodec, type LabelCodec } from "../taxonomy/label-codec.ts";
import { dimensionHashes } from "../taxonomy/dimension-hashes.ts";
import { loadTaxonomy } from "../taxonomy/load-taxonomy.ts";
import type { Taxonomy } from "../taxonomy/taxonomy-schema.ts";
import type { OutputFormat } from "./output-format.ts";
import { fillTemplate, renderDimensions, renderOutputFormat } from "./render-prompt.ts";

/** A share of texts an alias sends to another version (canary: answered by it; shadow: labelled by it too). */
export interface VersionShare {
  version: string;
  share: number;
}

/** What an alias serves: one version, or a version with a canary and/or a shadow share. */
export interface AliasRoutes {
  baseline: string;
  canary?: VersionShare;
  shadow?: VersionShare;
}

function aliasSchema() {
  const share = z.strictObject({ version: z.string().min(1), share: z.number().min(0).max(1) });
  return z.union([z.string(), z.strictObject({ version: z.string().min(1), canary: share.optional(), shadow: share.optional() })]);
}

const manifestSchema = z.object({
  versions: z.record(
    z.string().regex(/^v\d+$/, "versions are named v1, v2, ..."),
    z.object({
      template: z.string().min(1),
      /** The taxonomy file this version uses; versions that change definitions point at their own. */
      taxonomy: z.string().min(1).default("taxonomy.json"),
      createdAt: z.string().optional(),
      notes: z.string().optional(),
    }),
  ),
  aliases: z.record(z.string(), aliasSchema()).default({}),
  inference: z.object({ temperature: z.number().min(0).max(1), topP: z.number().gt(0).max(1) }).partial().default({}),
});

/** Inference parameters sent with the prompt; part of its content hash. */
export interface InferenceParams {
  /** Only the sampling parameters the model takes are present (see resolveInference in llm/sampling.ts). */
  temperature?: number;
  topP?: number;
  maxTokens: number;
}

/** A taxonomy and prompt version resolved to the exact text sent to the model. */
export interface ResolvedPrompt {
  taxonomy: Taxonomy;
  version: string;
  /** The answer format `system` asks for (see forFormat). */
  format: OutputFormat;
  system: string;
  codec: LabelCodec;
  /** Dimension key -> hash of its definition, for per-dimension cache reuse. */
  dimensionHashes: Record<string, string>;
  /** The template text, kept to render prompts for a subset of dimensions. */
  template: string;
  templateFile: string;
  /** Taxonomy-level inference defaults from the manifest (override the model's). */
  inference: Partial<Pick<InferenceParams, "temperature" | "topP">>;
}

/** Loads taxonomies and prompt templates once and resolves a request's (taxonomy, version or alias). */
export class PromptRegistry {
  readonly #dir: string;
  readonly #cache = new Map<string, Promise<ResolvedPrompt>>();

  constructor(promptsDir: string) {
    this.#dir = promptsDir;
  }

  /** The rendered prompt for a taxonomy at a version (`v3`) or environment alias (`prod`). */
  resolve(taxonomyName: string, versionOrAlias: string): Promise<ResolvedPrompt> {
    const key = `${taxonomyName}@${versionOrAlias}`;
    let hit = this.#cache.get(key);
    if (!hit) {
      hit = this.#load(taxonomyName, versionOrAlias);
      // A failed load is not cached: the file may be fixed while the worker runs.
      hit.catch(() => this.#cache.delete(key));
      this.#cache.set(key, hit);
    }
    return hit;
  }

  /**
   * The versions an alias routes texts to: its own (baseline), and the canary and shadow shares
   * the manifest gives it. A plain version, or an alias without shares, has only a baseline.
   */
  async routes(taxonomyName: string, versionOrAlias: string): Promise<AliasRoutes> {
    const baseline = (await this.resolve(taxonomyName, versionOrAlias)).version;
    const alias = (await readManifest(this.#dir, taxonomyName)).aliases[versionOrAlias];
    if (alias === undefined || typeof alias === "string") return { baseline };
    for (const share of [alias.canary, alias.shadow]) if (share) await this.resolve(taxonomyName, share.version);
    return { baseline, ...(alias.canary ? { canary: alias.canary } : {}), ...(alias.shadow ? { shadow: alias.shadow } : {}) };
  }

  async #load(taxonomyName: string, versionOrAlias: string): Promise<ResolvedPrompt> {
    // Checked before any path is built from it: a request must not reach outside the prompts dir.
    if (!TAXONOMY_NAME.test(taxonomyName)) {
      throw new TaxonomyError("TAXONOMY_NOT_FOUND", `Unknown taxonomy "${taxonomyName}": names are kebab-case`);
    }
    const manifest = await readManifest(this.#dir, taxonomyName);
    const alias = manifest.aliases[versionOrAlias];
    const version = alias === undefined ? versionOrAlias : typeof alias === "string" ? alias : alias.version;
    const entry = manifest.versions[version];
    if (!entry) {
      const known = [...Object.keys(manifest.versions), ...Object.keys(manifest.aliases)].join(", ");
      throw new TaxonomyError("PROMPT_VERSION_NOT_FOUND", `Taxonomy "${taxonomyName}" has no prompt version or alias "${versionOrAlias}" (known: ${known})`);
    }
    const taxonomy = await loadTaxonomy(this.#dir, taxonomyName, entry.taxonomy);
    const templateFile = path.join(this.#dir, taxonomyName, entry.template);
    const template = await fs.readFile(templateFile, "utf8");
    return {
      taxonomy,
      version,
      format: "json",
      system: renderSystemPrompt(template, taxonomy, templateFile, "json"),
      codec: createLabelCodec(taxonomy),
      dimensionHashes: dimensionHashes(taxonomy),
      template,
      templateFile,
      inference: manifest.inference,
    };
  }
}

function renderSystemPrompt(template: string, taxonomy: Taxonomy, templateFile: string, format: OutputFormat): string {
  return fillTemplate(
    template,
    {
      "taxonomy.title": taxonomy.title,
      "taxonomy.description": taxonomy.description,
      dimensions: renderDimensions(taxonomy, format),
      output_format: renderOutputFormat(taxonomy, format),
    },
    templateFile,
  );
}

/**
 * The same prompt asking only for some dimensions: used when a text's other dimensions come
 * from the cache, so the model reads (and is paid for) only what changed.
 */
export function subsetPrompt(prompt: ResolvedPrompt, dimensionKeys: ReadonlySet<string>): ResolvedPrompt {
  const taxonomy = { ...prompt.taxonomy, dimensions: prompt.taxonomy.dimensions.filter((d) => dimensionKeys.has(d.key)) };
  return {
    ...prompt,
    taxonomy,
    system: renderSystemPrompt(prompt.template, taxonomy, prompt.templateFile, prompt.format),
    codec: createLabelCodec(taxonomy),
    dimensionHashes: Object.fromEntries(Object.entries(prompt.dimensionHashes).filter(([k]) => dimensionKeys.has(k))),
  };
}

// One rendering per prompt and format, made on first use (a prompt object lives as long as its registry entry).
const byFormat = new WeakMap<ResolvedPrompt, Map<OutputFormat, ResolvedPrompt>>();

/** The same prompt asking for answers in `format` (the model's, from the catalogue); `prompt` itself when it already does. */
export function forFormat(prompt: ResolvedPrompt, format: OutputFormat): ResolvedPrompt {
  if (prompt.format === format) return prompt;
  let renderings = byFormat.get(prompt);
  if (!renderings) byFormat.set(prompt, (renderings = new Map<OutputFormat, ResolvedPrompt>()));
  let rendered = renderings.get(format);
  if (!rendered) {
    rendered = { ...prompt, format, system: renderSystemPrompt(prompt.template, prompt.taxonomy, prompt.templateFile, format) };
    renderings.set(format, rendered);
  }
  return rendered;
}

const TAXONOMY_NAME = /^[a-z][a-z0-9-]*$/;

/** Taxonomy names under a prompts directory: the kebab-case folders that hold a manifest.json, sorted. Throws when the directory cannot be read. */
export async function listTaxonomies(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const names: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || !TAXONOMY_NAME.test(e.name)) continue;
    const hasManifest = await fs.access(path.join(dir, e.name, "manifest.json")).then(
      () => true,
      () => false,
    );
    if (hasManifest) names.push(e.name);
  }
  return names.sort();
}

async function readManifest(dir: string, taxonomyName: string): Promise<z.infer<typeof manifestSchema>> {
  const file = path.join(dir, taxonomyName, "manifest.json");
  let raw: string;
  try {
    raw = await fs.readFile(file, "utf8");
  } catch (cause) {
    // The message goes into DLQ attributes and results: it names the taxonomy and the ones there
    // are, not the worker's file paths (the cause has them).
    const known = await listTaxonomies(dir).catch(() => undefined);
    const which = known === undefined || known.length === 0 ? "" : ` (it has: ${known.join(", ")})`;
    throw new TaxonomyError("TAXONOMY_NOT_FOUND", `Unknown taxonomy "${taxonomyName}": the prompts directory has no such taxonomy${which}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (cause) {
    throw new TaxonomyError("TAXONOMY_INVALID", `${file}: not valid JSON (${(cause as Error).message})`, { cause });
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new TaxonomyError("TAXONOMY_INVALID", `${file}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  return parsed.data;
}

/** Content hash of exactly what decides the model's answer: rendered prompt, model and inference parameters. */
export function promptHash(prompt: ResolvedPrompt, modelId: string, inference: InferenceParams): string {
  const h = createHash("sha256");
  h.update(JSON.stringify({ system: prompt.system, modelId, inference }));
  return `sha256:${h.digest("hex")}`;
}
