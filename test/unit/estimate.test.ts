import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadModelCatalogue, PACKAGED_CATALOGUE, readCatalogueFile } from "../../src/core/models/model-catalogue.ts";
import { costUsd, findModel } from "../../src/core/models/model-registry.ts";
import { countTokens } from "../../src/core/models/token-estimator.ts";
import { planCall } from "../../src/core/classify/call-model.ts";
import { planChunks } from "../../src/core/classify/classify-items.ts";
import { answerTokensPerText } from "../../src/core/classify/output-budget.ts";
import { resolveInference } from "../../src/core/models/sampling.ts";
import { estimateRun, formatEstimate } from "../../src/app/ops/estimate.ts";
import { forFormat, PromptRegistry } from "../../src/core/prompts/prompt-registry.ts";
import { quotaShareArg } from "../../src/cli/estimate-command.ts";
import { PROMPTS_DIR } from "../support/fakes.ts";

const texts = Array.from({ length: 130 }, (_, k) => ({ id: `t${k}`, text: `text number ${k} about a kettle that leaks` }));

describe("estimateRun", () => {
  it("plans every call as the worker does: the model's format, even chunks, its tokenizer, what Bedrock reserves", async () => {
    const prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v1");
    const e = estimateRun(texts, prompt, { batchSize: 50, chunkSize: 25 });
    expect(e.texts).toBe(130);
    expect(e.batches).toBe(3);
    // 50 + 50 + 30 texts in chunks of at most 25, as even as possible: 2 + 2 + 2 calls.
    const llama = e.models.find((m) => m.model.alias === "llama3.3-70b")!;
    const model = findModel("llama3.3-70b")!;
    expect(llama.format).toBe("lines");
    expect(llama.calls).toBe(6);
    const choice = { model, inference: resolveInference(prompt, model) };
    const plans = [[0, 25], [25, 50], [50, 75], [75, 100], [100, 115], [115, 130]].map(([a, b]) => planCall(texts.slice(a, b).map((t) => t.text), prompt, choice));
    const system = countTokens(forFormat(prompt, "lines").system, { kind: "llama3" });
    expect(llama.systemPromptTokens).toBe(system);
    expect(llama.inputTokens).toBe(plans.reduce((n, p) => n + p.reserve.inputTokens, 0));
    expect(llama.inputTokens).toBe(6 * system + plans.reduce((n, p) => n + countTokens(p.request.user, { kind: "llama3" }), 0));
    expect(llama.reservedTokens).toBe(plans.reduce((n, p) => n + p.reserve.inputTokens + p.request.inference.maxTokens, 0));
    expect(llama.perText.reserved).toBeCloseTo(llama.reservedTokens / 130, 1);
    expect(llama.outputTokens).toBe(130 * answerTokensPerText(prompt.taxonomy, { kind: "llama3" }, "lines"));
    expect(llama.costUsd).toBeCloseTo(costUsd(model, llama.inputTokens, llama.outputTokens), 10);
    expect(llama.quotaTokens).toBe(llama.inputTokens + llama.outputTokens);
    // Claude's output burns the quota at 5x.
    const claude = e.models.find((m) => m.model.alias === "claude-sonnet")!;
    expect(claude.quotaTokens).toBe(claude.inputTokens + 5 * claude.outputTokens);
  });

  it("reserves fewer tokens per text in lines than in JSON, and takes a 50-text batch in one Llama 3.3 call", async () => {
    const prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v1");
    const llama = findModel("llama3.3-70b")!;
    const [lines, json] = [llama, { ...llama, outputFormat: "json" as const }].map((m) => estimateRun(texts, prompt, { batchSize: 50, chunkSize: 50, models: [m] }).models[0]!);
    expect(lines!.textsPerCall).toBe(50);
    expect(lines!.calls).toBe(3);
    expect(json!.calls).toBeGreaterThan(3 * lines!.calls);
    expect(lines!.perText.reserved * 2).toBeLessThan(json!.perText.reserved);
    expect(lines!.perText.output * 2.5).toBeLessThan(json!.perText.output);
  });

  it("splits calls to fit a small context as the worker does: Llama 3 70B's 8k takes about 15 texts of this taxonomy a call", async () => {
    const prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v1");
    const model = findModel("llama3-70b")!;
    const e = estimateRun(texts, prompt, { batchSize: 50, chunkSize: 50, models: [model] }).models[0]!;
    const choice = { model, inference: resolveInference(prompt, model) };
    const worker = [texts.slice(0, 50), texts.slice(50, 100), texts.slice(100)].flatMap((batch) => planChunks(batch, 50, prompt, choice));
    expect(e.calls).toBe(worker.length);
    expect(e.calls).toBeGreaterThan(6);
    expect(e.fits).toBe(true);
  });

  it("flags a model whose context cannot hold the prompt", async () => {
    const prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v1");
    const small = { ...findModel("llama3-70b")!, alias: "small-context", contextTokens: 4096 };
    const e = estimateRun(texts, prompt, { batchSize: 50, chunkSize: 50, models: [small, findModel("claude-haiku")!] });
    expect(e.models.find((m) => m.model.alias === "small-context")?.fits).toBe(false);
    expect(e.models.find((m) => m.model.alias === "claude-haiku")?.fits).toBe(true);
    expect(formatEstimate(e, "product-feedback", "v1")).toMatch(/small-context .*\(does not fit the model's context or output cap\)/);
  });

  it("estimates only the models it is given", async () => {
    const prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v1");
    const e = estimateRun(texts, prompt, { batchSize: 50, chunkSize: 50, models: [findModel("nova-lite")!] });
    expect(e.models.map((m) => m.model.alias)).toEqual(["nova-lite"]);
  });

  it("adds a provisioned student's hourly bill (from its catalogue entry's hosting) to the estimate, and nothing for a model billed per token", async () => {
    const prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v1");
    const arn = "arn:aws:bedrock:us-west-2:000000000000:provisioned-model/abc";
    const base = readCatalogueFile(PACKAGED_CATALOGUE).find((m) => m.alias === "llama3.3-70b")!;
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "labelq-estimate-")), "students.json");
    const hosting = { kind: "provisioned", arn, hourlyUsd: 7.1, modelUnits: 1, commitment: "none", source: "labelq distill deploy" };
    fs.writeFileSync(file, JSON.stringify({ models: [{ ...base, alias: "llama3.1-8b-student", modelIds: { inRegion: arn }, price: { ...base.price, inputPer1k: 0, outputPer1k: 0 }, hosting }] }));
    const catalogue = loadModelCatalogue({ geography: "us", overrideFile: file });
    const e = estimateRun(texts, prompt, { batchSize: 50, chunkSize: 50, models: [catalogue.find("llama3.1-8b-student")!, catalogue.find("nova-lite")!] });
    const out = formatEstimate(e, "product-feedback", "v1");
    expect(out).toContain("llama3.1-8b-student: Provisioned Throughput, $7.10 an hour ($5183.00 a month of 730 hours) while deployed, on top of the cost above");
    expect(out).not.toMatch(/nova-lite: Provisioned/);
  });
});

describe("labelq estimate --quota-share", () => {
  it("takes a share above 0 and at most 1, and refuses anything else naming the range and the value", () => {
    expect(quotaShareArg("0.5")).toBe(0.5);
    expect(quotaShareArg("1")).toBe(1);
    for (const bad of ["0", "-0.2", "1.5", "", " ", "half", "NaN"]) {
      expect(() => quotaShareArg(bad)).toThrow(`must be a share above 0 to 1 (the share of the Bedrock quota labelq may use, e.g. 0.5), not "${bad}"`);
    }
  });
});
