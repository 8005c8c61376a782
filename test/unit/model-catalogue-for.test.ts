import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/core/config/config.ts";
import { ConfigError, InvalidRequestError } from "../../src/core/errors/errors.ts";
import { type LabelBatchSettings, resolveModel } from "../../src/core/classify/label-batch.ts";
import { createAwsClients } from "../../src/adapters/aws-clients.ts";
import { createWorker, modelCatalogueFor } from "../../src/app/worker/worker.ts";
import { caught, silentLogger } from "../support/fakes.ts";

/** The catalogue a worker with this environment would use. */
function catalogueOf(env: Record<string, string>) {
  return modelCatalogueFor(loadConfig(env));
}

describe("modelCatalogueFor, where the worker is composed", () => {
  it("accepts the default configuration: the packaged catalogue in the us geography", () => {
    expect(catalogueOf({}).geography).toBe("us");
  });

  it("rejects a model alias the registry does not know, listing the known ones", () => {
    expect(() => catalogueOf({ LABELQ_FALLBACK_MODELS: "gpt-9" })).toThrow(/unknown model alias "gpt-9" \(known: llama3-70b, llama3.3-70b, llama4-scout, llama4-maverick, nova-micro, nova-lite, claude-sonnet, claude-haiku, qwen3-32b, gpt-oss-120b\)/);
  });

  it("chooses the inference-profile geography from AWS_REGION unless LABELQ_MODEL_GEOGRAPHY is set", () => {
    expect(catalogueOf({ AWS_REGION: "eu-west-1", LABELQ_DEFAULT_MODEL: "claude-haiku" }).find("claude-haiku")?.modelId).toBe(
      "eu.anthropic.claude-haiku-4-5-20251001-v1:0",
    );
    expect(catalogueOf({ AWS_REGION: "ap-southeast-2", LABELQ_DEFAULT_MODEL: "nova-lite", LABELQ_FALLBACK_MODELS: "none" }).geography).toBe("apac");
    const global = catalogueOf({ LABELQ_MODEL_GEOGRAPHY: "global", LABELQ_DEFAULT_MODEL: "claude-sonnet", LABELQ_FALLBACK_MODELS: "none" });
    expect(global.find("claude-sonnet")?.modelId).toBe("global.anthropic.claude-sonnet-4-5-20250929-v1:0");
    expect(() => catalogueOf({ LABELQ_MODEL_GEOGRAPHY: "mars" })).toThrow(/LABELQ_MODEL_GEOGRAPHY="mars"/);
  });

  it("rejects a model with no id in the chosen geography, saying which geographies it has", () => {
    expect(() => catalogueOf({ AWS_REGION: "eu-central-1" })).toThrow(/llama3.3-70b has no model id for geography "eu" \(it has: us\)/);
  });

  it("resolves ids by LABELQ_RESIDENCY: region in-Region only, geography as before, global the global. profile where one exists", () => {
    const inRegion = { LABELQ_DEFAULT_MODEL: "nova-lite", LABELQ_FALLBACK_MODELS: "nova-micro" };
    const region = catalogueOf({ ...inRegion, LABELQ_RESIDENCY: "region", AWS_REGION: "eu-west-1" });
    expect(region.residency).toBe("region");
    expect(region.models.map((m) => m.modelId)).toEqual(["meta.llama3-70b-instruct-v1:0", "amazon.nova-micro-v1:0", "amazon.nova-lite-v1:0", "qwen.qwen3-32b-v1:0", "openai.gpt-oss-120b-1:0"]);
    expect(catalogueOf({ ...inRegion, AWS_REGION: "eu-west-1" }).find("nova-lite")?.modelId).toBe("eu.amazon.nova-lite-v1:0");
    expect(catalogueOf({ ...inRegion, LABELQ_RESIDENCY: "geography" }).find("claude-sonnet")?.modelId).toBe("us.anthropic.claude-sonnet-4-5-20250929-v1:0");
    const global = catalogueOf({ LABELQ_RESIDENCY: "global", AWS_REGION: "eu-west-1", LABELQ_DEFAULT_MODEL: "claude-haiku" });
    expect(global.find("claude-sonnet")?.modelId).toBe("global.anthropic.claude-sonnet-4-5-20250929-v1:0");
    expect(global.find("nova-lite")?.modelId).toBe("eu.amazon.nova-lite-v1:0");
  });

  it("under LABELQ_RESIDENCY=region refuses a default or fallback with no in-Region id, naming the Region and the models that can", () => {
    const error = caught(() => catalogueOf({ LABELQ_RESIDENCY: "region", AWS_REGION: "eu-west-1", LABELQ_DEFAULT_MODEL: "nova-lite" }));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([
      "LABELQ_DEFAULT_MODEL / LABELQ_ALLOWED_MODELS / LABELQ_FALLBACK_MODELS / LABELQ_QUOTAS: claude-sonnet has no in-Region model id, so it cannot run in eu-west-1 under LABELQ_RESIDENCY=region (it has: us, eu, global; models that can: llama3-70b, nova-micro, nova-lite, qwen3-32b, gpt-oss-120b)",
    ]);
    expect(() => catalogueOf({ LABELQ_RESIDENCY: "region" })).toThrow(/llama3\.3-70b has no in-Region model id, so it cannot run in us-east-1 /);
  });

  it("under LABELQ_RESIDENCY=region gives a request naming a profile-only model the error of any unavailable model", () => {
    const config = loadConfig({ LABELQ_RESIDENCY: "region", LABELQ_DEFAULT_MODEL: "nova-lite", LABELQ_FALLBACK_MODELS: "none" });
    const catalogue = modelCatalogueFor(config);
    // Allowed by name, so only the residency can make it unavailable.
    const settings: LabelBatchSettings = { defaultTaxonomy: "t", defaultPromptVersion: "prod", defaultModel: "nova-lite", allowedModels: ["claude-haiku"], chunkSize: 50, maxReaskRounds: 2, catalogue };
    const error = caught(() => resolveModel("claude-haiku", settings));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).code).toBe("MODEL_NOT_ALLOWED");
    expect((error as InvalidRequestError).message).toBe('Model "claude-haiku" does not exist (allowed here: nova-lite, claude-haiku)');
    expect(resolveModel("nova-lite", settings).modelId).toBe("amazon.nova-lite-v1:0");
  });

  it("adds the models of LABELQ_MODEL_CATALOGUE, and names the variable and field of a bad one", async () => {
    const fs = await import("node:fs");
    const os = await import("node:os");
    const path = await import("node:path");
    const { mkdtempSync, writeFileSync } = fs;
    const join = (...parts: string[]) => path.join(...parts);
    const tmpdir = () => os.tmpdir();
    const dir = mkdtempSync(join(tmpdir(), "labelq-catalogue-"));
    const entry = {
      alias: "mistral-small",
      name: "Mistral Small",
      family: "mistral",
      modelIds: { inRegion: "mistral.mistral-small-2402-v1:0" },
      tokenizer: { kind: "approximate", basis: "llama3", factor: 1.2 },
      contextTokens: 32000,
      maxOutputTokens: 8192,
      sampling: { accepts: ["temperature", "topP"], oneOf: false, defaults: { temperature: 0.5 } },
      capabilities: { toolUse: false, forcedTool: false, promptCache: null, structuredOutput: "none" },
      quota: { outputBurnDown: 1 },
      price: { inputPer1k: 0.001, outputPer1k: 0.003, asOf: "2025-07-20", source: "https://aws.amazon.com/bedrock/pricing/" },
    };
    const good = join(dir, "good.json");
    writeFileSync(good, JSON.stringify({ models: [entry] }));
    const catalogue = catalogueOf({ LABELQ_MODEL_CATALOGUE: good, LABELQ_ALLOWED_MODELS: "mistral-small" });
    expect(catalogue.find("mistral-small")?.modelId).toBe("mistral.mistral-small-2402-v1:0");
    expect(catalogue.find("claude-sonnet")).toBeDefined();
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ models: [{ ...entry, maxOutputTokens: 64000 }] }));
    expect(() => catalogueOf({ LABELQ_MODEL_CATALOGUE: bad })).toThrow(/LABELQ_MODEL_CATALOGUE=".*bad.json": models.0.maxOutputTokens \(mistral-small\): must not exceed contextTokens/);
  });

  it("rejects an unknown model named only in LABELQ_QUOTAS", () => {
    expect(() => catalogueOf({ LABELQ_QUOTAS: '{"gpt-9":{"rpm":1}}' })).toThrow(/unknown model alias "gpt-9"/);
  });

  it("is what createWorker checks first: no worker is built with an unknown model", () => {
    const config = loadConfig({ LABELQ_DEFAULT_MODEL: "gpt-9" });
    const error = caught(() => createWorker(config, createAwsClients(config), silentLogger()));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/unknown model alias "gpt-9"/);
  });
});
