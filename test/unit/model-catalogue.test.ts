import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CatalogueError, geographyOf, loadModelCatalogue, ModelCatalogue, PACKAGED_CATALOGUE, readCatalogueFile, type ModelEntry } from "../../src/core/models/model-catalogue.ts";

const packaged = readCatalogueFile(PACKAGED_CATALOGUE);
const entry = (alias: string): ModelEntry => structuredClone(packaged.find((m) => m.alias === alias)!);

function writeCatalogue(models: unknown[]): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "labelq-catalogue-")), "models.json");
  fs.writeFileSync(file, JSON.stringify({ models }));
  return file;
}

describe("the packaged model catalogue", () => {
  it("holds today's four models plus Nova Micro/Lite and Llama 4 Scout/Maverick, each with a sourced, dated price", () => {
    expect(packaged.map((m) => m.alias).sort()).toEqual(
      ["claude-haiku", "claude-sonnet", "llama3-70b", "llama3.3-70b", "llama4-maverick", "llama4-scout", "nova-lite", "nova-micro"],
    );
    for (const m of packaged) {
      expect(m.price.source, m.alias).toMatch(/^https:\/\/aws\.amazon\.com\/bedrock\/pricing\//);
      expect(m.price.asOf, m.alias).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
  });

  it("burns Claude 4.5 output at 5x the quota and every other model's at 1x", () => {
    for (const m of packaged) expect(m.quota.outputBurnDown, m.alias).toBe(m.family === "claude" ? 5 : 1);
  });

  it("knows the minimum cacheable prefix of the models with prompt caching, and none for Llama", () => {
    expect(entry("claude-sonnet").capabilities.promptCache).toEqual({ minPrefixTokens: 1024 });
    expect(entry("claude-haiku").capabilities.promptCache).toEqual({ minPrefixTokens: 4096 });
    for (const m of packaged.filter((x) => x.family === "llama")) expect(m.capabilities.promptCache, m.alias).toBeNull();
  });
});

describe("ModelCatalogue", () => {
  it("resolves each model to its profile for the geography, or its in-Region id when it has no profile there", () => {
    const eu = new ModelCatalogue(packaged, "eu");
    expect(eu.find("nova-micro")?.modelId).toBe("eu.amazon.nova-micro-v1:0");
    expect(eu.find("llama3-70b")).toMatchObject({ modelId: "meta.llama3-70b-instruct-v1:0", idKind: "inRegion" });
    expect(eu.find("llama4-scout")).toBeUndefined();
    expect(eu.whyNot("llama4-scout")).toBe('llama4-scout has no model id for geography "eu" (it has: us)');
    expect(eu.whyNot("gpt-9")).toMatch(/^unknown model alias "gpt-9" \(known: .*llama4-scout/);
  });

  it("adds the regional-profile premium to us./eu./apac. prices only", () => {
    const us = new ModelCatalogue(packaged, "us").find("claude-haiku")!;
    const global = new ModelCatalogue(packaged, "global").find("claude-haiku")!;
    expect(global.price.inputPer1k).toBeCloseTo(0.001, 12);
    expect(us.price.inputPer1k).toBeCloseTo(0.0011, 12);
    expect(us.price.outputPer1k).toBeCloseTo(0.0055, 12);
    expect(us.price.cacheReadPer1k).toBeCloseTo(0.00011, 12);
    // Nova has no premium: its us. profile costs the list price.
    expect(new ModelCatalogue(packaged, "us").find("nova-lite")?.price.inputPer1k).toBe(0.00006);
  });
});

describe("readCatalogueFile", () => {
  it("refuses inconsistent entries, naming the model and the field", () => {
    const forced = { ...entry("llama3.3-70b"), capabilities: { toolUse: false, forcedTool: true, promptCache: null, structuredOutput: "tool" } };
    const sampling = { ...entry("claude-sonnet"), sampling: { accepts: ["temperature", "topP"], oneOf: true, defaults: { temperature: 0.5, topP: 0.9 } } };
    const error = (() => {
      try {
        readCatalogueFile(writeCatalogue([forced, sampling]));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(CatalogueError);
    const issues = (error as CatalogueError).problems.join("\n");
    expect(error).toMatchObject({ code: "CONFIG_INVALID", retryable: false });
    expect(issues).toContain("models.0.capabilities.forcedTool (llama3.3-70b): needs toolUse");
    expect(issues).toContain("models.1.sampling.defaults (claude-sonnet): a one-of model takes at most one default");
  });

  it("refuses a duplicated alias and a file that is not JSON", () => {
    expect(() => readCatalogueFile(writeCatalogue([entry("nova-lite"), entry("nova-lite")]))).toThrow(/alias "nova-lite" appears more than once/);
    const file = writeCatalogue([]);
    fs.writeFileSync(file, "{nope");
    expect(() => readCatalogueFile(file)).toThrow(CatalogueError);
  });
});

describe("loadModelCatalogue", () => {
  it("lets an override file replace a model by alias and add new ones", () => {
    const cheaper = { ...entry("nova-lite"), price: { ...entry("nova-lite").price, inputPer1k: 0.00001 } };
    const added = { ...entry("nova-micro"), alias: "nova-micro-2", modelIds: { us: "us.amazon.nova-micro-v2:0" } };
    const catalogue = loadModelCatalogue({ geography: "us", overrideFile: writeCatalogue([cheaper, added]) });
    expect(catalogue.find("nova-lite")?.price.inputPer1k).toBe(0.00001);
    expect(catalogue.find("nova-micro-2")?.modelId).toBe("us.amazon.nova-micro-v2:0");
    expect(catalogue.models).toHaveLength(packaged.length + 1);
  });
});

describe("geographyOf", () => {
  it("maps a Region to its inference-profile geography", () => {
    expect(geographyOf("us-east-1")).toBe("us");
    expect(geographyOf("eu-west-3")).toBe("eu");
    expect(geographyOf("ap-northeast-1")).toBe("apac");
    expect(geographyOf("sa-east-1")).toBe("global");
  });
});
