import { Command, CommanderError } from "commander";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { labelBatch, type LabelBatchSettings } from "../../src/core/classify/label-batch.ts";
import { TaxonomyError } from "../../src/core/errors/errors.ts";
import { countTokens } from "../../src/core/models/token-estimator.ts";
import { diffLines, unifiedDiff, type DiffLine } from "../../src/core/prompts/diff-prompts.ts";
import { forFormat, PromptRegistry } from "../../src/core/prompts/prompt-registry.ts";
import { registerPromptsCommand } from "../../src/cli/prompts-command.ts";
import { dimensionHashes, promptContextHash } from "../../src/core/taxonomy/dimension-hashes.ts";
import {
  FakeModelProvider,
  PROMPTS_DIR,
  PassThroughLimiter,
  miniTaxonomyJson,
  rejection,
  silentLogger,
  validCompactLabels,
} from "../support/fakes.ts";

/** Run `labelq prompts ...args` against a prompts directory and return everything it wrote. */
async function run(args: string[], dir = PROMPTS_DIR): Promise<string> {
  let output = "";
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerPromptsCommand(program, () => dir, (s) => (output += s));
  await program.parseAsync(["prompts", ...args], { from: "user" });
  return output;
}

const registry = new PromptRegistry(PROMPTS_DIR);

const tempDirs: string[] = [];
afterAll(async () => {
  await Promise.all(tempDirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

/** A prompts directory holding the mini taxonomy as "mini" with one version, plus `extra` files (path -> content). */
async function promptsDirWith(template: string, extra: Record<string, string> = {}): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "labelq-prompts-"));
  tempDirs.push(dir);
  const files: Record<string, string> = {
    "mini/taxonomy.json": JSON.stringify(miniTaxonomyJson()),
    "mini/manifest.json": JSON.stringify({ versions: { v1: { template: "v1.md" } }, aliases: { prod: "v1" } }),
    "mini/v1.md": template,
    ...extra,
  };
  for (const [file, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await fs.writeFile(path.join(dir, file), content);
  }
  return dir;
}

describe("labelq prompts list", () => {
  it("lists both shipped taxonomies with their versions, aliases and dimension counts", async () => {
    const out = await run(["list"]);
    expect(out).toMatch(/^product-feedback {2}"Product feedback"\n {2}aliases: dev -> v2, staging -> v2, prod -> v1\n {2}v1 {2}25 dimensions .*\n {2}v2 {2}25 dimensions /m);
    expect(out).toMatch(/^support-triage {2}"Support triage"\n {2}aliases: dev -> v1, staging -> v1, prod -> v1\n {2}v1 {2}4 dimensions /m);
    expect(out.indexOf("product-feedback")).toBeLessThan(out.indexOf("support-triage"));
  });

  it("gives each version the byte size and token count of its prompt rendered for the default model's format (lines), or for --format", async () => {
    for (const format of ["lines", "json"] as const) {
      const out = await run(format === "lines" ? ["list"] : ["list", "--format", "json"]);
      for (const [taxonomy, version] of [["product-feedback", "v1"], ["product-feedback", "v2"], ["support-triage", "v1"]] as const) {
        const { system } = forFormat(await registry.resolve(taxonomy, version), format);
        expect(out).toMatch(new RegExp(`^ {2}${version} {2}\\d+ dimensions {2}${Buffer.byteLength(system)} bytes {2}~${countTokens(system, { kind: "llama3" })} tokens`, "m"));
      }
    }
  });

  it("skips folders without a manifest.json and loose files", async () => {
    const dir = await promptsDirWith("{{output_format}}", { "drafts/taxonomy.json": "{}", "README.md": "hello" });
    const out = await run(["list"], dir);
    expect(out).toMatch(new RegExp(`^mini {2}"Mini feedback"\\n.*\\n {2}v1 {2}${miniTaxonomyJson().dimensions.length} dimensions {2}`, "m"));
    expect(out).not.toContain("drafts");
    expect(out).not.toContain("README");
  });

  it("fails with TAXONOMY_INVALID, naming the file, when a taxonomy under the directory is invalid", async () => {
    const dir = await promptsDirWith("{{output_format}}", { "broken/taxonomy.json": '{"name": "broken"}', "broken/manifest.json": '{"versions": {"v1": {"template": "v1.md"}}}', "broken/v1.md": "{{output_format}}" });
    const error = await rejection(run(["list"], dir));
    expect(error).toBeInstanceOf(TaxonomyError);
    expect((error as TaxonomyError).code).toBe("TAXONOMY_INVALID");
    expect((error as TaxonomyError).message).toContain(path.join(dir, "broken", "taxonomy.json"));
  });
});

describe("labelq prompts show", () => {
  it("shows the title, the version resolved from an alias and every dimension with its code, kind, values and hash", async () => {
    const out = await run(["show", "support-triage", "prod"]);
    const { taxonomy, template } = await registry.resolve("support-triage", "v1");
    const hashes = dimensionHashes(taxonomy);
    expect(out.startsWith("support-triage: Support triage\n")).toBe(true);
    expect(out).toContain("version v1 (prod), created 2026-11-25: First version.");
    expect(out).toContain(`prompt context hash ${promptContextHash(taxonomy, template)} (template, title and description)`);
    expect(out).toContain(`  category  "cat"  single  ${hashes.category}`);
    expect(out).toContain('one of: billing "bil", shipping "shp", technical "tec", account "acc", other "oth"');
    expect(out).toContain(`  priority  "pri"  scale  ${hashes.priority}\n      integer 1..4\n`);
    expect(out).toContain(`  needs_human  "hum"  boolean  ${hashes.needs_human}`);
    expect(out).toMatch(/products_mentioned {2}"prd" {2}multi {2}sha256:[0-9a-f]{64}\n {6}0 to 3 of: kettle "ket"/);
  });

  it("shows the prod version when none is named, and nullable scales as such", async () => {
    const out = await run(["show", "product-feedback"]);
    expect(out).toMatch(/^version v1, created 2026-11-25: First version\.$/m);
    expect(out).toMatch(/visual_appeal {2}"va" {2}scale {2}sha256:[0-9a-f]{64}\n {6}integer 1\.\.5 or null\n/);
  });

  it("fails with the registry's TaxonomyError, naming the taxonomy, when it is unknown", async () => {
    const error = await rejection(run(["show", "no-such-taxonomy"]));
    expect(error).toBeInstanceOf(TaxonomyError);
    expect((error as TaxonomyError).message).toContain("no-such-taxonomy");
  });
});

describe("labelq prompts render", () => {
  const settings: LabelBatchSettings = {
    defaultTaxonomy: "product-feedback",
    defaultPromptVersion: "prod",
    defaultModel: "llama3.3-70b",
    allowedModels: ["claude-haiku"],
    chunkSize: 50,
    maxReaskRounds: 0,
  };

  /** The promptHash a worker writes into the result of a batch labelled with this taxonomy, version and model. */
  async function workerPromptHash(taxonomy: string, version: string, model: string): Promise<string> {
    const prompt = await registry.resolve(taxonomy, version);
    const provider = new FakeModelProvider({ labeller: (text) => validCompactLabels(prompt.taxonomy, text) });
    const result = await labelBatch(
      { schemaVersion: 1, batchId: "b-1", taxonomy, promptVersion: version, model, items: [{ id: "a", text: "Nice kettle." }] },
      new Date(),
      settings,
      { provider, limiter: new PassThroughLimiter(), logger: silentLogger(), prompts: registry },
    );
    return result.promptHash;
  }

  it("prints the exact rendered system prompt, then trailer lines", async () => {
    const out = await run(["render", "product-feedback", "v2"]);
    // Rendered for the default model's answer format (lines).
    const { system } = forFormat(await registry.resolve("product-feedback", "v2"), "lines");
    expect(out.startsWith(system)).toBe(true);
    expect(out).toContain("## Output format");
    expect(out.slice(system.length).split("\n").filter(Boolean).every((l) => l.startsWith("--- "))).toBe(true);
  });

  it.each([
    ["product-feedback", "prod", "llama3.3-70b", undefined],
    ["product-feedback", "v2", "claude-haiku", "claude-haiku"],
    ["support-triage", "v1", "llama3.3-70b", undefined],
  ])("prints the promptHash a worker writes into results (%s %s, model %s)", async (taxonomy, version, model, flag) => {
    const out = await run(["render", taxonomy, version, ...(flag ? ["--model", flag] : [])]);
    const hash = /promptHash (sha256:[0-9a-f]{64})/.exec(out)?.[1];
    expect(hash).toBeDefined();
    expect(hash).toBe(await workerPromptHash(taxonomy, version, model));
  });

  it("names the model and inference parameters the hash is for, with the manifest's temperature and topP where the model takes both", async () => {
    const out = await run(["render", "support-triage", "--model", "claude-sonnet"]);
    expect(out).toContain("--- model claude-sonnet (us.anthropic.claude-sonnet-4-5-20250929-v1:0), temperature 0.5, maxTokens 64000");
    const llama = await run(["render", "support-triage", "--model", "llama3.3-70b"]);
    expect(llama).toContain("--- model llama3.3-70b (us.meta.llama3-3-70b-instruct-v1:0), temperature 0.5, topP 0.9, maxTokens 2048");
  });

  it("says when the prompt and maxTokens leave no room in the model's context, and how much is left when they do", async () => {
    const small = await run(["render", "mini", "--model", "llama3-70b"], await promptsDirWith("{{output_format}}"));
    expect(small).toMatch(/~\d+ left for the texts\n$/);
    const huge = await run(["render", "mini", "--model", "llama3-70b"], await promptsDirWith(`${"label ".repeat(7000)}\n{{output_format}}`));
    expect(huge).toContain("of the model's 8192-token context, DOES NOT FIT even before any text");
    expect((await run(["render", "mini", "--model", "claude-haiku"], await promptsDirWith(`${"label ".repeat(7000)}\n{{output_format}}`))).includes("DOES NOT FIT")).toBe(false);
  });

  it("fails with PROMPT_VERSION_NOT_FOUND for an unknown version", async () => {
    const error = await rejection(run(["render", "product-feedback", "v9"]));
    expect(error).toBeInstanceOf(TaxonomyError);
    expect((error as TaxonomyError).code).toBe("PROMPT_VERSION_NOT_FOUND");
    expect((error as TaxonomyError).message).toContain('"v9"');
  });

  it("rejects a model alias that the registry does not know", async () => {
    const error = await rejection(run(["render", "product-feedback", "--model", "gpt-9"]));
    expect(error).toBeInstanceOf(CommanderError);
    expect((error as CommanderError).code).toBe("commander.invalidArgument");
  });
});

describe("labelq prompts diff", () => {
  it("shows v2's added rules as + lines in a unified diff against v1", async () => {
    const out = await run(["diff", "product-feedback", "v1", "v2"]);
    expect(out).toContain("--- product-feedback v1\n+++ product-feedback v2\n@@ -");
    expect(out).toContain("+Spam:\n");
    expect(out).toMatch(/^\+- Label spam consistently: intent spam;/m);
    expect(out).toMatch(/^ # Dimensions$/m);
    expect(out).toMatch(/rendered prompts differ: -\d+ \+\d+ lines/);
  });

  it("says the dimension definitions are unchanged, since both versions share one taxonomy", async () => {
    expect(await run(["diff", "product-feedback", "v1", "v2"])).toContain("dimension definitions unchanged (all 25 dimension hashes equal)");
  });

  it("says the prompt context changed, since v2 changes the template", async () => {
    expect(await run(["diff", "product-feedback", "v1", "v2"])).toMatch(/^prompt context changed \(template, taxonomy title or description\): sha256:[0-9a-f]{64} -> sha256:[0-9a-f]{64}$/m);
    expect(await run(["diff", "product-feedback", "v1", "prod"])).toContain("prompt context unchanged");
  });

  it("names the dimensions whose definitions changed when a version uses its own taxonomy file", async () => {
    const v2 = miniTaxonomyJson();
    const sentiment = v2.dimensions.find((d) => d.key === "sentiment")!;
    sentiment.definition = "Overall attitude toward the brand.";
    const removed = v2.dimensions.pop()!;
    v2.dimensions.push({ key: "urgent", code: "urg", title: "Urgent", kind: "boolean", definition: "Needs a reply today." });
    const dir = await promptsDirWith("{{dimensions}}\n\n{{output_format}}", {
      "mini/taxonomy.v2.json": JSON.stringify(v2),
      "mini/manifest.json": JSON.stringify({ versions: { v1: { template: "v1.md" }, v2: { template: "v1.md", taxonomy: "taxonomy.v2.json" } } }),
    });
    const out = await run(["diff", "mini", "v1", "v2"], dir);
    const unchanged = miniTaxonomyJson().dimensions.length - 2;
    expect(out).toContain(`dimension definitions changed: 1 changed, 1 added, 1 removed, ${unchanged} unchanged\n  changed: sentiment\n  added: urgent\n  removed: ${String(removed.key)}\n`);
    expect(out).toContain("+Needs a reply today.");
    expect(out).toContain("prompt context unchanged");
    expect(await run(["list"], dir)).toMatch(/^ {2}v2 {2}\d+ dimensions {2}\(taxonomy\.v2\.json\) {2}/m);
  });

  it("accepts aliases and names the versions they resolve to", async () => {
    const out = await run(["diff", "product-feedback", "prod", "staging"]);
    expect(out).toContain("--- product-feedback v1 (prod)\n+++ product-feedback v2 (staging)\n");
  });

  it("has - lines for text only the first version has", async () => {
    const out = await run(["diff", "product-feedback", "v2", "v1"]);
    expect(out).toContain("-Spam:\n");
    expect(out).not.toMatch(/^\+Spam:/m);
  });

  it("says so when both sides render the same prompt", async () => {
    const out = await run(["diff", "product-feedback", "v1", "prod"]);
    expect(out).not.toContain("@@");
    expect(out).toContain("rendered prompts are identical");
  });

  it("fails with PROMPT_VERSION_NOT_FOUND when either version is unknown", async () => {
    const error = await rejection(run(["diff", "product-feedback", "v1", "v7"]));
    expect(error).toBeInstanceOf(TaxonomyError);
    expect((error as TaxonomyError).code).toBe("PROMPT_VERSION_NOT_FOUND");
  });
});

describe("diffLines", () => {
  const sides = (d: DiffLine[]) => ({ before: d.filter((l) => l.op !== "+").map((l) => l.text), after: d.filter((l) => l.op !== "-").map((l) => l.text) });

  it("keeps every line of identical texts", () => {
    expect(diffLines(["a", "b"], ["a", "b"])).toEqual([
      { op: " ", text: "a" },
      { op: " ", text: "b" },
    ]);
  });

  it("finds a longest common subsequence, so it changes no more lines than needed", () => {
    // LCS of these is 4 lines long, so 3 removed and 2 added is the minimum.
    const d = diffLines([..."abcabba"], [..."cbabac"]);
    expect(d.filter((l) => l.op === "-")).toHaveLength(3);
    expect(d.filter((l) => l.op === "+")).toHaveLength(2);
    expect(sides(d)).toEqual({ before: [..."abcabba"], after: [..."cbabac"] });
  });

  it("gives back both texts from its lines, for random inputs", () => {
    let seed = 7;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    for (let round = 0; round < 200; round++) {
      const a = Array.from({ length: next() % 12 }, () => "xyz"[next() % 3] ?? "");
      const b = Array.from({ length: next() % 12 }, () => "xyz"[next() % 3] ?? "");
      expect(sides(diffLines(a, b))).toEqual({ before: a, after: b });
    }
  });
});

describe("unifiedDiff", () => {
  const ten = Array.from({ length: 10 }, (_, k) => `line ${k + 1}`);

  it("is empty when nothing changed", () => {
    expect(unifiedDiff(diffLines(ten, ten), "a", "b")).toEqual([]);
  });

  it("writes a hunk with three lines of context and the line numbers of both sides", () => {
    const after = ten.map((l) => (l === "line 5" ? "line five" : l));
    expect(unifiedDiff(diffLines(ten, after), "old", "new")).toEqual([
      "--- old",
      "+++ new",
      "@@ -2,7 +2,7 @@",
      " line 2",
      " line 3",
      " line 4",
      "-line 5",
      "+line five",
      " line 6",
      " line 7",
      " line 8",
    ]);
  });

  it("splits changes far apart into separate hunks and numbers an insertion into an empty text from 0", () => {
    const after = ["new first", ...ten.slice(1, 9), "new last"];
    expect(unifiedDiff(diffLines(ten, after), "a", "b").filter((l) => l.startsWith("@@"))).toEqual(["@@ -1,4 +1,4 @@", "@@ -7,4 +7,4 @@"]);
    expect(unifiedDiff(diffLines([], ["x"]), "a", "b")).toEqual(["--- a", "+++ b", "@@ -0,0 +1,1 @@", "+x"]);
  });
});
