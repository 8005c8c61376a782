import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { TaxonomyError } from "../errors/errors.ts";
import { createLabelCodec, type LabelCodec } from "../taxonomy/label-codec.ts";
import { loadTaxonomy } from "../taxonomy/load-taxonomy.ts";
import type { Taxonomy } from "../taxonomy/taxonomy-schema.ts";
import { fillTemplate, renderDimensions, renderOutputFormat } from "./render-prompt.ts";

const manifestSchema = z.object({
  versions: z.record(
    z.string().regex(/^v\d+$/, "versions are named v1, v2, ..."),
    z.object({ template: z.string().min(1), createdAt: z.string().optional(), notes: z.string().optional() }),
  ),
  aliases: z.record(z.string(), z.string()).default({}),
  inference: z.object({ temperature: z.number().min(0).max(1), topP: z.number().gt(0).max(1) }).partial().default({}),
});

/** Inference parameters sent with the prompt; part of its content hash. */
export interface InferenceParams {
  temperature: number;
  topP: number;
  maxTokens: number;
}

/** A taxonomy and prompt version resolved to the exact text sent to the model. */
export interface ResolvedPrompt {
  taxonomy: Taxonomy;
  version: string;
  system: string;
  codec: LabelCodec;
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

  async #load(taxonomyName: string, versionOrAlias: string): Promise<ResolvedPrompt> {
    const taxonomy = await loadTaxonomy(this.#dir, taxonomyName);
    const manifestFile = path.join(this.#dir, taxonomyName, "manifest.json");
    const manifest = await readManifest(manifestFile);
    const version = manifest.aliases[versionOrAlias] ?? versionOrAlias;
    const entry = manifest.versions[version];
    if (!entry) {
      const known = [...Object.keys(manifest.versions), ...Object.keys(manifest.aliases)].join(", ");
      throw new TaxonomyError("PROMPT_VERSION_NOT_FOUND", `Taxonomy "${taxonomyName}" has no prompt version or alias "${versionOrAlias}" (known: ${known})`);
    }
    const templateFile = path.join(this.#dir, taxonomyName, entry.template);
    const template = await fs.readFile(templateFile, "utf8");
    const system = fillTemplate(
      template,
      {
        "taxonomy.title": taxonomy.title,
        "taxonomy.description": taxonomy.description,
        dimensions: renderDimensions(taxonomy),
        output_format: renderOutputFormat(taxonomy),
      },
      templateFile,
    );
    return { taxonomy, version, system, codec: createLabelCodec(taxonomy), inference: manifest.inference };
  }
}

async function readManifest(file: string): Promise<z.infer<typeof manifestSchema>> {
  let raw: string;
  try {
    raw = await fs.readFile(file, "utf8");
  } catch (cause) {
    throw new TaxonomyError("PROMPT_VERSION_NOT_FOUND", `${file} cannot be read`, { cause });
  }
  const parsed = manifestSchema.safeParse(JSON.parse(raw));
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
