import { type Command, Option } from "commander";
import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { TaxonomyError } from "../core/errors/errors.ts";
import { MODELS, findModel, type ModelSpec } from "../core/models/model-registry.ts";
import { countTokens } from "../core/models/token-estimator.ts";
import { compareDimensionHashes, promptContextHash, taxonomyHash } from "../core/taxonomy/dimension-hashes.ts";
import type { Dimension } from "../core/taxonomy/taxonomy-schema.ts";
import { diffLines, diffStats, unifiedDiff } from "../core/prompts/diff-prompts.ts";
import { resolveInference } from "../core/models/sampling.ts";
import { forFormat, listTaxonomies, PromptRegistry, promptHash, type InferenceParams, type ResolvedPrompt } from "../core/prompts/prompt-registry.ts";
import { OUTPUT_FORMATS, type OutputFormat } from "../core/prompts/output-format.ts";

/** Version shown when none is named: the alias requests use unless they or the config say otherwise. */
const DEFAULT_VERSION = "prod";
const DEFAULT_MODEL = "llama3.3-70b";

// Only what `list` and `show` display; PromptRegistry.resolve validates the whole manifest.
const manifestIndexSchema = z.object({
  versions: z.record(z.string(), z.object({ taxonomy: z.string().optional(), createdAt: z.string().optional(), notes: z.string().optional() })),
  aliases: z
    .record(z.string(), z.union([z.string(), z.object({ version: z.string(), canary: z.object({ version: z.string(), share: z.number() }).optional(), shadow: z.object({ version: z.string(), share: z.number() }).optional() })]))
    .default({}),
});
type ManifestIndex = z.infer<typeof manifestIndexSchema>;
type AliasEntry = ManifestIndex["aliases"][string];

function aliasVersion(alias: AliasEntry | undefined): string | undefined {
  return alias === undefined || typeof alias === "string" ? alias : alias.version;
}

/** "v1", or "v1 (canary v2 10%, shadow v3 20%)". */
function describeAlias(alias: AliasEntry): string {
  if (typeof alias === "string") return alias;
  const shares = [alias.canary && `canary ${alias.canary.version} ${Math.round(alias.canary.share * 100)}%`, alias.shadow && `shadow ${alias.shadow.version} ${Math.round(alias.shadow.share * 100)}%`].filter(Boolean);
  return shares.length ? `${alias.version} (${shares.join(", ")})` : alias.version;
}

/** Add `labelq prompts list|show|render|diff`: inspect taxonomies and prompt versions without calling a model. */
export function registerPromptsCommand(program: Command, promptsDir: () => string, write: (s: string) => void): void {
  const out = (lines: readonly string[]) => write(lines.map((l) => `${l}\n`).join(""));
  const prompts = program
    .command("prompts")
    .description("Inspect taxonomies and prompt versions: list them, show a taxonomy, render a prompt, diff two versions.");

  prompts
    .command("list")
    .description("every taxonomy with its versions, aliases, dimension counts and rendered prompt sizes")
    .addOption(formatOption())
    .action(async (o: { format: OutputFormat }) => {
      const dir = promptsDir();
      const registry = new PromptRegistry(dir);
      const lines: string[] = [];
      for (const name of await taxonomyNames(dir)) {
        const manifest = await readManifestIndex(dir, name);
        const rendered = await Promise.all(Object.keys(manifest.versions).map((v) => registry.resolve(name, v)));
        // Versions may use different taxonomy files; the title shown is the one prod serves.
        const headline = rendered.find((p) => p.version === aliasVersion(manifest.aliases[DEFAULT_VERSION])) ?? rendered.at(-1);
        lines.push(`${name}  "${headline?.taxonomy.title ?? ""}"`);
        lines.push(`  aliases: ${Object.entries(manifest.aliases).map(([alias, v]) => `${alias} -> ${describeAlias(v)}`).join(", ") || "none"}`);
        for (const p of rendered) {
          const meta = manifest.versions[p.version];
          const file = meta?.taxonomy && meta.taxonomy !== "taxonomy.json" ? `  (${meta.taxonomy})` : "";
          lines.push(`  ${p.version}  ${p.taxonomy.dimensions.length} dimensions${file}  ${sizeOf(forFormat(p, o.format).system)}${meta?.createdAt ? `  created ${meta.createdAt}` : ""}`);
        }
      }
      out(lines);
    });

  prompts
    .command("show <taxonomy> [version]")
    .description(`a taxonomy's dimensions (key, code, kind, labels or range) and the hash of each (version default: ${DEFAULT_VERSION})`)
    .action(async (name: string, versionArg: string | undefined) => {
      const dir = promptsDir();
      const prompt = await new PromptRegistry(dir).resolve(name, versionArg ?? DEFAULT_VERSION);
      const meta = (await readManifestIndex(dir, name)).versions[prompt.version];
      const { taxonomy } = prompt;
      const hashes = prompt.dimensionHashes;
      const lines = [
        `${taxonomy.name}: ${taxonomy.title}`,
        taxonomy.description,
        "",
        `version ${prompt.version}${versionArg && versionArg !== prompt.version ? ` (${versionArg})` : ""}${meta?.createdAt ? `, created ${meta.createdAt}` : ""}${meta?.notes ? `: ${meta.notes}` : ""}`,
        `taxonomy ${meta?.taxonomy ?? "taxonomy.json"}, hash ${taxonomyHash(taxonomy)}`,
        `prompt context hash ${promptContextHash(taxonomy, prompt.template)} (template, title and description)`,
        "",
        `${taxonomy.dimensions.length} dimensions:`,
      ];
      for (const d of taxonomy.dimensions) {
        lines.push(`  ${d.key}  "${d.code}"  ${d.kind}  ${hashes[d.key] ?? ""}`, `      ${valuesOf(d)}`);
      }
      out(lines);
    });

  prompts
    .command("render <taxonomy> [version]")
    .description(`print the exact system prompt, then its promptHash for a model (version default: ${DEFAULT_VERSION})`)
    .addOption(new Option("--model <alias>", "model alias the hash is for").choices(MODELS.map((m) => m.alias)).default(DEFAULT_MODEL))
    .action(async (name: string, versionArg: string | undefined, o: { model: string }) => {
      const resolved = await new PromptRegistry(promptsDir()).resolve(name, versionArg ?? DEFAULT_VERSION);
      const model = findModel(o.model);
      // Unreachable through the CLI (commander checks the choices), but the type says it can be missing.
      if (!model) throw new Error(`unknown model alias "${o.model}"`);
      // Rendered for the model's answer format, exactly as it is sent.
      const prompt = forFormat(resolved, model.outputFormat);
      const inference = inferenceFor(prompt, model);
      const tokens = countTokens(prompt.system, model.tokenizer);
      // The texts of a chunk and the answer must fit beside the system prompt in the model's context.
      const left = model.contextTokens - tokens - inference.maxTokens;
      write(prompt.system.endsWith("\n") ? prompt.system : `${prompt.system}\n`);
      out([
        `--- ${name} ${prompt.version}: promptHash ${promptHash(prompt, model.modelId, inference)}`,
        `--- model ${model.alias} (${model.modelId}), ${samplingText(inference)}, maxTokens ${inference.maxTokens}, answer format ${model.outputFormat}`,
        `--- size ${sizeOf(prompt.system)}; + maxTokens ${inference.maxTokens} = ~${tokens + inference.maxTokens} of the model's ${model.contextTokens}-token context, ${
          left > 0 ? `~${left} left for the texts` : "DOES NOT FIT even before any text"
        }`,
      ]);
    });

  prompts
    .command("diff <taxonomy> <from> <to>")
    .description("line diff of two rendered prompt versions (or aliases) and which dimension definitions changed")
    .addOption(formatOption())
    .action(async (name: string, fromArg: string, toArg: string, o: { format: OutputFormat }) => {
      const registry = new PromptRegistry(promptsDir());
      const [from, to] = (await Promise.all([registry.resolve(name, fromArg), registry.resolve(name, toArg)])).map((p) => forFormat(p, o.format)) as [ResolvedPrompt, ResolvedPrompt];
      const diff = diffLines(from.system.split("\n"), to.system.split("\n"));
      const { removed, added } = diffStats(diff);
      const lines = unifiedDiff(diff, label(name, fromArg, from), label(name, toArg, to));
      if (lines.length > 0) lines.push("");
      lines.push(lines.length === 0 ? "rendered prompts are identical" : `rendered prompts differ: -${removed} +${added} lines`);
      lines.push(...hashSummary(from, to));
      out(lines);
    });
}

/** --format: the answer format to render prompts for; by default the default model's, as the worker sends them. */
function formatOption(): Option {
  return new Option("--format <format>", "answer format the prompts are rendered for").choices(OUTPUT_FORMATS).default(findModel(DEFAULT_MODEL)?.outputFormat ?? "json");
}

/** Inference parameters exactly as labelBatch sends them for a request without overrides. */
export function inferenceFor(prompt: ResolvedPrompt, model: ModelSpec): InferenceParams {
  return resolveInference(prompt, model);
}

/** The sampling parameters sent, e.g. "temperature 0.5, topP 0.9" or "temperature 0.5". */
function samplingText(inference: InferenceParams): string {
  const parts = [inference.temperature === undefined ? "" : `temperature ${inference.temperature}`, inference.topP === undefined ? "" : `topP ${inference.topP}`];
  return parts.filter(Boolean).join(", ") || "no sampling parameters";
}

/** Llama 3 token count (the real tokenizer), the size shown for a prompt not tied to a model. */
export function approxTokens(text: string): number {
  return countTokens(text, { kind: "llama3" });
}

function sizeOf(system: string): string {
  return `${Buffer.byteLength(system, "utf8")} bytes  ~${approxTokens(system)} tokens`;
}

function label(name: string, asked: string, prompt: ResolvedPrompt): string {
  return `${name} ${prompt.version}${asked === prompt.version ? "" : ` (${asked})`}`;
}

/** What a label cache needs to know: which dimensions' labels still mean the same, and whether the instructions around them changed. */
function hashSummary(from: ResolvedPrompt, to: ResolvedPrompt): string[] {
  const c = compareDimensionHashes(from.dimensionHashes, to.dimensionHashes);
  const lines =
    c.changed.length + c.added.length + c.removed.length === 0
      ? [`dimension definitions unchanged (all ${c.unchanged.length} dimension hashes equal)`]
      : [`dimension definitions changed: ${c.changed.length} changed, ${c.added.length} added, ${c.removed.length} removed, ${c.unchanged.length} unchanged`];
  if (c.changed.length > 0) lines.push(`  changed: ${c.changed.join(", ")}`);
  if (c.added.length > 0) lines.push(`  added: ${c.added.join(", ")}`);
  if (c.removed.length > 0) lines.push(`  removed: ${c.removed.join(", ")}`);
  const [before, after] = [promptContextHash(from.taxonomy, from.template), promptContextHash(to.taxonomy, to.template)];
  lines.push(
    before === after
      ? "prompt context unchanged (template, taxonomy title and description)"
      : `prompt context changed (template, taxonomy title or description): ${before} -> ${after}`,
  );
  return lines;
}

function valuesOf(d: Dimension): string {
  const labels = (ls: { name: string; code: string }[]) => ls.map((l) => `${l.name} "${l.code}"`).join(", ");
  switch (d.kind) {
    case "single":
      return `one of: ${labels(d.labels)}`;
    case "multi":
      return `${d.minItems} to ${d.maxItems} of: ${labels(d.labels)}`;
    case "scale":
      return `integer ${d.min}..${d.max}${d.nullable ? " or null" : ""}`;
    case "boolean":
      return `1 or 0${d.nullable ? " or null" : ""}`;
  }
}

/** Taxonomy names under the prompts directory (listTaxonomies), or an error naming the directory. */
async function taxonomyNames(dir: string): Promise<string[]> {
  try {
    return await listTaxonomies(dir);
  } catch (cause) {
    throw new TaxonomyError("TAXONOMY_NOT_FOUND", `prompts directory ${dir} cannot be read`, { cause });
  }
}

async function readManifestIndex(dir: string, name: string): Promise<ManifestIndex> {
  const file = path.join(dir, name, "manifest.json");
  let json: unknown;
  try {
    json = JSON.parse(await fs.readFile(file, "utf8"));
  } catch (cause) {
    throw new TaxonomyError("PROMPT_VERSION_NOT_FOUND", `${file} cannot be read as JSON`, { cause });
  }
  const parsed = manifestIndexSchema.safeParse(json);
  if (!parsed.success) {
    throw new TaxonomyError("TAXONOMY_INVALID", `${file}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  return parsed.data;
}
