import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TaxonomyError } from "../../src/core/errors/errors.ts";
import { PromptRegistry, promptHash, type InferenceParams } from "../../src/core/prompts/prompt-registry.ts";
import { PROMPTS_DIR, rejection } from "../support/fakes.ts";

const registry = new PromptRegistry(PROMPTS_DIR);
const inference: InferenceParams = { temperature: 0.5, topP: 0.9, maxTokens: 2048 };
const tempDirs: string[] = [];

afterAll(async () => {
  await Promise.all(tempDirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

/** A copy of a shipped taxonomy folder in a temp prompts dir, with files replaced. */
async function promptsDirWith(name: string, files: Record<string, string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "labelq-prompts-"));
  tempDirs.push(dir);
  await fs.cp(path.join(PROMPTS_DIR, name), path.join(dir, name), { recursive: true });
  for (const [file, content] of Object.entries(files)) await fs.writeFile(path.join(dir, name, file), content);
  return dir;
}

describe("PromptRegistry.resolve", () => {
  it("resolves the alias prod to version v1", async () => {
    const prompt = await registry.resolve("product-feedback", "prod");
    expect(prompt.version).toBe("v1");
    expect(prompt.taxonomy.name).toBe("product-feedback");
  });

  it("resolves an explicit version to itself and renders the same prompt as its alias", async () => {
    const [byVersion, byAlias] = await Promise.all([registry.resolve("product-feedback", "v1"), registry.resolve("product-feedback", "prod")]);
    expect(byVersion.version).toBe("v1");
    expect(byVersion.system).toBe(byAlias.system);
  });

  it("returns the manifest's inference defaults", async () => {
    expect((await registry.resolve("product-feedback", "prod")).inference).toEqual({ temperature: 0.5, topP: 0.9 });
  });

  it("caches a resolved prompt", async () => {
    const a = await registry.resolve("support-triage", "prod");
    const b = await registry.resolve("support-triage", "prod");
    expect(b).toBe(a);
  });

  it("rejects an unknown version with PROMPT_VERSION_NOT_FOUND, listing the known versions and aliases", async () => {
    const error = await rejection(registry.resolve("product-feedback", "v9"));
    expect(error).toBeInstanceOf(TaxonomyError);
    const e = error as TaxonomyError;
    expect(e.code).toBe("PROMPT_VERSION_NOT_FOUND");
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('"v9"');
    const manifest = JSON.parse(await fs.readFile(path.join(PROMPTS_DIR, "product-feedback", "manifest.json"), "utf8")) as {
      versions: Record<string, unknown>;
      aliases: Record<string, string>;
    };
    const known = [...Object.keys(manifest.versions), ...Object.keys(manifest.aliases)];
    expect(known).toEqual(expect.arrayContaining(["v1", "prod"]));
    expect(e.message).toContain(`known: ${known.join(", ")}`);
  });

  it("rejects a version named like an Object.prototype member instead of resolving it", async () => {
    for (const v of ["constructor", "toString", "__proto__"]) {
      const error = await rejection(registry.resolve("product-feedback", v));
      expect((error as TaxonomyError).code, v).toBe("PROMPT_VERSION_NOT_FOUND");
    }
  });

  it("rejects an unknown taxonomy with TAXONOMY_NOT_FOUND", async () => {
    expect(((await rejection(registry.resolve("nope", "prod"))) as TaxonomyError).code).toBe("TAXONOMY_NOT_FOUND");
  });

  it("does not cache a failed load", async () => {
    const dir = await promptsDirWith("support-triage", { "manifest.json": '{"versions":{}}' });
    const r = new PromptRegistry(dir);
    expect(((await rejection(r.resolve("support-triage", "prod"))) as TaxonomyError).code).toBe("PROMPT_VERSION_NOT_FOUND");
    await fs.cp(path.join(PROMPTS_DIR, "support-triage", "manifest.json"), path.join(dir, "support-triage", "manifest.json"));
    expect((await r.resolve("support-triage", "prod")).version).toBe("v1");
  });

  it("rejects a template with an unknown placeholder with a non-retryable PROMPT_TEMPLATE_INVALID naming the template file", async () => {
    const dir = await promptsDirWith("support-triage", { "v1.md": "Hello {{taxonomy.name}}\n{{output_format}}" });
    const error = await rejection(new PromptRegistry(dir).resolve("support-triage", "v1"));
    expect(error).toMatchObject({ code: "PROMPT_TEMPLATE_INVALID", retryable: false });
    expect((error as Error).message).toContain(path.join(dir, "support-triage", "v1.md"));
    expect((error as Error).message).toContain("{{taxonomy.name}}");
  });

  it("rejects a manifest that fails its schema with TAXONOMY_INVALID naming the file", async () => {
    const dir = await promptsDirWith("support-triage", { "manifest.json": '{"versions":{"first":{"template":"v1.md"}}}' });
    const error = await rejection(new PromptRegistry(dir).resolve("support-triage", "prod"));
    expect((error as TaxonomyError).code).toBe("TAXONOMY_INVALID");
    expect((error as Error).message).toContain(path.join(dir, "support-triage", "manifest.json"));
  });

  it("rejects a manifest that is not JSON with TAXONOMY_INVALID naming the file (like a taxonomy that is not JSON)", async () => {
    const dir = await promptsDirWith("support-triage", { "manifest.json": '{"versions": {"v1": ' });
    const error = await rejection(new PromptRegistry(dir).resolve("support-triage", "prod"));
    expect(error).toBeInstanceOf(TaxonomyError);
    expect((error as TaxonomyError).code).toBe("TAXONOMY_INVALID");
    expect((error as Error).message).toContain(path.join(dir, "support-triage", "manifest.json"));
  });
});

describe("the rendered system prompt", () => {
  for (const name of ["product-feedback", "support-triage"]) {
    it(`of ${name} mentions every dimension key and has one output-format line per dimension in the grammar "- <code> (<key>): ..."`, async () => {
      const prompt = await registry.resolve(name, "prod");
      const lines = prompt.system.split("\n");
      for (const d of prompt.taxonomy.dimensions) {
        expect(prompt.system, d.key).toContain(d.key);
        expect(lines.filter((l) => l.startsWith(`- ${d.code} (${d.key}): `)), d.key).toHaveLength(1);
      }
      const grammarLines = lines.filter((l) => /^- [a-z][a-z0-9]{0,3} \([a-z][a-z0-9_]*\): /.test(l));
      expect(grammarLines).toHaveLength(prompt.taxonomy.dimensions.length);
    });

    it(`of ${name} has no placeholder left and starts from the taxonomy title`, async () => {
      const prompt = await registry.resolve(name, "prod");
      expect(prompt.system).not.toMatch(/\{\{|\}\}/);
      expect(prompt.system).toContain(prompt.taxonomy.title);
      expect(prompt.system).toContain("## Output format");
    });

    it(`of ${name} has an output example that its own codec accepts`, async () => {
      const prompt = await registry.resolve(name, "prod");
      const shape = prompt.system.split("\n").find((l) => l.startsWith("Shape: ")) ?? "";
      const example = JSON.parse(/\{"r":\[(\{.*?\}), \.\.\.\]\}/.exec(shape)?.[1] ?? "null") as Record<string, unknown>;
      const { i, ...labels } = example;
      expect(i).toBe(1);
      expect(prompt.codec.decode(labels).ok).toBe(true);
    });
  }

  it("of product-feedback stays within a budget of 64 KiB", async () => {
    const prompt = await registry.resolve("product-feedback", "prod");
    expect(Buffer.byteLength(prompt.system, "utf8")).toBeLessThan(64 * 1024);
  });
});

describe("promptHash", () => {
  it("is a sha256 digest, stable for the same prompt, model and inference", async () => {
    const prompt = await registry.resolve("product-feedback", "prod");
    const a = promptHash(prompt, "meta.llama3-70b-instruct-v1:0", inference);
    expect(a).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(promptHash(prompt, "meta.llama3-70b-instruct-v1:0", { ...inference })).toBe(a);
    const again = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v1");
    expect(promptHash(again, "meta.llama3-70b-instruct-v1:0", inference)).toBe(a);
  });

  it("changes when the model id changes", async () => {
    const prompt = await registry.resolve("product-feedback", "prod");
    expect(promptHash(prompt, "model-a", inference)).not.toBe(promptHash(prompt, "model-b", inference));
  });

  it("changes when the temperature, topP or maxTokens change", async () => {
    const prompt = await registry.resolve("product-feedback", "prod");
    const base = promptHash(prompt, "m", inference);
    expect(promptHash(prompt, "m", { ...inference, temperature: 0 })).not.toBe(base);
    expect(promptHash(prompt, "m", { ...inference, topP: 1 })).not.toBe(base);
    expect(promptHash(prompt, "m", { ...inference, maxTokens: 1024 })).not.toBe(base);
  });

  it("changes when the rendered prompt changes", async () => {
    const prompt = await registry.resolve("product-feedback", "prod");
    expect(promptHash({ ...prompt, system: `${prompt.system} ` }, "m", inference)).not.toBe(promptHash(prompt, "m", inference));
  });
});
