import { readFileSync } from "node:fs";
import path from "node:path";
import type { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { startBedrockEmulator, type BedrockEmulator } from "@labelq/bedrock-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BedrockProvider } from "../../src/adapters/bedrock/bedrock-provider.ts";
import { labelBatch } from "../../src/core/classify/label-batch.ts";
import { requestSchema } from "../../src/core/contracts/request.ts";
import { findModel } from "../../src/core/models/model-registry.ts";
import { PromptRegistry } from "../../src/core/prompts/prompt-registry.ts";
import { emulatorClient } from "../support/emulator-client.ts";
import { PROMPTS_DIR, PassThroughLimiter, SAMPLES_DIR, silentLogger } from "../support/fakes.ts";

// Qwen3 32B and gpt-oss-120b label a batch of the product-feedback samples through the strict
// Bedrock emulator (a test double): the catalogue's ids, context, output cap, sampling and
// answer format are what the emulator's rules for these models accept.

const TEXTS = readFileSync(path.join(SAMPLES_DIR, "product-feedback.jsonl"), "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .slice(0, 40)
  .map((line, n) => ({ id: `s${n + 1}`, text: (JSON.parse(line) as { text: string }).text }));

let emulator: BedrockEmulator;
let client: BedrockRuntimeClient;

beforeAll(async () => {
  emulator = await startBedrockEmulator({ port: 0, seed: 3 });
  client = emulatorClient(emulator.url, 1);
});

afterAll(async () => {
  client.destroy();
  await emulator.close();
});

describe.each(["qwen3-32b", "gpt-oss-120b"])("%s on the strict Bedrock emulator", (alias) => {
  it("labels a 40-text batch in its answer format, every text valid, within its context and output cap", async () => {
    const spec = findModel(alias)!;
    const limiter = new PassThroughLimiter();
    const request = requestSchema().parse({ schemaVersion: 1, batchId: `new-models-${alias}`, model: alias, items: TEXTS });
    const settings = { defaultTaxonomy: "product-feedback", defaultPromptVersion: "prod", defaultModel: alias, allowedModels: [], fallbackModels: [], chunkSize: 50, maxReaskRounds: 2 };
    const deps = { prompts: new PromptRegistry(PROMPTS_DIR), provider: new BedrockProvider(client), limiter, logger: silentLogger() };
    emulator.resetStats();
    const result = await labelBatch(request, new Date(), settings, deps);
    expect(result.status).toBe("completed");
    expect(result.items.every((it) => it.error === null && it.model === spec.modelId)).toBe(true);
    expect(Object.keys(result.items[0]!.labels!).length).toBeGreaterThanOrEqual(20);
    expect(emulator.stats().byModel[spec.modelId]?.calls).toBe(result.usage.modelCalls);
    // Each call's reservation (prompt, texts and maxTokens) fits the context the catalogue gives.
    for (const call of limiter.calls) expect(call.tokens).toBeLessThanOrEqual(spec.contextTokens);
    expect(result.usage.costUsd).toBeGreaterThan(0);
  });
});
