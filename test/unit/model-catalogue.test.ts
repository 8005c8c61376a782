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
  it("holds today's four models plus Nova Micro/Lite, Llama 4 Scout/Maverick, Qwen3 32B and gpt-oss-120b, each with a sourced, dated price", () => {
    expect(packaged.map((m) => m.alias).sort()).toEqual(
      ["claude-haiku", "claude-sonnet", "gpt-oss-120b", "llama3-70b", "llama3.3-70b", "llama4-maverick", "llama4-scout", "nova-lite", "nova-micro", "qwen3-32b"],
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

describe("ModelCatalogue by residency", () => {
  const ids = (catalogue: ModelCatalogue) => Object.fromEntries(catalogue.models.map((m) => [m.alias, m.modelId]));

  it("geography (the default) is today's resolution: the geography's profile, else the in-Region id", () => {
    const unset = new ModelCatalogue(packaged, "us");
    const geography = new ModelCatalogue(packaged, "us", { residency: "geography", region: "us-east-1" });
    expect(unset.residency).toBe("geography");
    expect(ids(geography)).toEqual(ids(unset));
    expect(ids(geography)).toMatchObject({
      "llama3-70b": "meta.llama3-70b-instruct-v1:0",
      "llama3.3-70b": "us.meta.llama3-3-70b-instruct-v1:0",
      "nova-lite": "us.amazon.nova-lite-v1:0",
      "claude-sonnet": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    });
    expect(geography.models).toHaveLength(packaged.length);
  });

  it("region keeps only in-Region ids, at list price, whatever the geography", () => {
    for (const geography of ["us", "eu", "apac", "global"] as const) {
      const region = new ModelCatalogue(packaged, geography, { residency: "region", region: "eu-west-1" });
      expect(ids(region)).toEqual({ "llama3-70b": "meta.llama3-70b-instruct-v1:0", "nova-micro": "amazon.nova-micro-v1:0", "nova-lite": "amazon.nova-lite-v1:0", "qwen3-32b": "qwen.qwen3-32b-v1:0", "gpt-oss-120b": "openai.gpt-oss-120b-1:0" });
      expect(region.models.every((m) => m.idKind === "inRegion")).toBe(true);
    }
    expect(new ModelCatalogue(packaged, "us", { residency: "region" }).find("nova-lite")?.price.inputPer1k).toBe(entry("nova-lite").price.inputPer1k);
  });

  it("region refuses a model without an in-Region id, naming the Region and the models that can", () => {
    const region = new ModelCatalogue(packaged, "us", { residency: "region", region: "us-east-1" });
    expect(region.find("claude-sonnet")).toBeUndefined();
    expect(region.whyNot("claude-sonnet")).toBe(
      "claude-sonnet has no in-Region model id, so it cannot run in us-east-1 under LABELQ_RESIDENCY=region (it has: us, eu, global; models that can: llama3-70b, nova-micro, nova-lite, qwen3-32b, gpt-oss-120b)",
    );
    expect(region.whyNot("llama3.3-70b")).toMatch(/^llama3\.3-70b has no in-Region model id, .*\(it has: us; models that can: llama3-70b, nova-micro, nova-lite, qwen3-32b, gpt-oss-120b\)$/);
    expect(new ModelCatalogue([entry("claude-haiku")], "us", { residency: "region" }).whyNot("claude-haiku")).toMatch(/cannot run in this Region .*models that can: none\)$/);
  });

  it("global takes a model's global. profile where it has one, else the geography's, else the in-Region id", () => {
    const global = new ModelCatalogue(packaged, "eu", { residency: "global", region: "eu-west-1" });
    expect(global.find("claude-haiku")).toMatchObject({ modelId: "global.anthropic.claude-haiku-4-5-20251001-v1:0", idKind: "global" });
    expect(global.find("nova-micro")).toMatchObject({ modelId: "eu.amazon.nova-micro-v1:0", idKind: "eu" });
    expect(global.find("llama3-70b")).toMatchObject({ modelId: "meta.llama3-70b-instruct-v1:0", idKind: "inRegion" });
    expect(global.find("llama4-scout")).toBeUndefined();
    expect(global.whyNot("llama4-scout")).toBe('llama4-scout has no model id for geography "eu" (it has: us)');
    // A global profile is list price: the regional premium is not added.
    expect(global.find("claude-haiku")?.price.inputPer1k).toBeCloseTo(0.001, 12);
  });

  it("loadModelCatalogue passes the residency and Region through, override files included", () => {
    const added = { ...entry("nova-micro"), alias: "nova-micro-2", modelIds: { inRegion: "amazon.nova-micro-v2:0", us: "us.amazon.nova-micro-v2:0" } };
    const catalogue = loadModelCatalogue({ geography: "us", residency: "region", region: "us-west-2", overrideFile: writeCatalogue([added]) });
    expect(catalogue.residency).toBe("region");
    expect(catalogue.find("nova-micro-2")?.modelId).toBe("amazon.nova-micro-v2:0");
    expect(catalogue.whyNot("claude-haiku")).toMatch(/cannot run in us-west-2 .*models that can: llama3-70b, nova-micro, nova-lite, qwen3-32b, gpt-oss-120b, nova-micro-2\)$/);
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

  it("keeps a deployed student's hosting and customization, and refuses a hosting kind it does not know", () => {
    const arn = "arn:aws:bedrock:us-east-1:000000000000:custom-model-deployment/abc123";
    const hosting = { kind: "on-demand", arn, source: "labelq distill deploy" };
    const customization = { jobName: "labelq-distill-1", customModelArn: "arn:aws:bedrock:us-east-1:000000000000:custom-model/x", student: "nova-micro", baseAlias: "nova-micro" };
    const student = { ...entry("nova-micro"), alias: "nova-micro-student", modelIds: { inRegion: arn }, hosting, customization };
    expect(readCatalogueFile(writeCatalogue([student]))[0]).toMatchObject({ hosting, customization });
    expect(loadModelCatalogue({ geography: "us", overrideFile: writeCatalogue([student]) }).find("nova-micro-student")?.modelId).toBe(arn);
    expect(() => readCatalogueFile(writeCatalogue([{ ...student, hosting: { ...hosting, kind: "serverless" } }]))).toThrow(/hosting/);
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
