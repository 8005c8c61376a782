import type { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { classifyItems } from "../../src/core/classify/classify-items.ts";
import { answerBudget, textsPerCallCap } from "../../src/core/classify/output-budget.ts";
import { startBedrockEmulator, type BedrockEmulator, type BedrockEmulatorOptions } from "@labelq/bedrock-emulator";
import { BedrockProvider } from "../../src/adapters/bedrock/bedrock-provider.ts";
import type { ModelProvider, ModelRequest, ModelResponse } from "../../src/core/models/model-provider.ts";
import { findModel, MODELS, type ModelSpec } from "../../src/core/models/model-registry.ts";
import { resolveInference } from "../../src/core/models/sampling.ts";
import { PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import path from "node:path";
import { readTexts } from "../../src/app/producer/read-texts.ts";
import { emulatorClient } from "../support/emulator-client.ts";
import { PROMPTS_DIR, PassThroughLimiter, rejection, silentLogger } from "../support/fakes.ts";

// classifyItems against the Bedrock emulator (a test double as strict as Bedrock): maxTokens
// sized to the chunk within each model's output cap, and daily quotas.

let prompt: ResolvedPrompt;
const open: { emulator: BedrockEmulator; client: BedrockRuntimeClient }[] = [];

beforeAll(async () => {
  prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "prod");
});

afterEach(async () => {
  for (const { emulator, client } of open.splice(0)) {
    client.destroy();
    await emulator.close();
  }
});

async function emulatorProvider(options: BedrockEmulatorOptions): Promise<RecordingProvider> {
  const emulator = await startBedrockEmulator({ port: 0, seed: 7, ...options });
  const client = emulatorClient(emulator.url, 1);
  open.push({ emulator, client });
  return new RecordingProvider(new BedrockProvider(client));
}

/** Remembers each request and answer on their way through. */
class RecordingProvider implements ModelProvider {
  readonly exchanges: { request: ModelRequest; response?: ModelResponse }[] = [];
  readonly #inner: ModelProvider;
  constructor(inner: ModelProvider) {
    this.#inner = inner;
  }
  async converse(request: ModelRequest, signal?: AbortSignal): Promise<ModelResponse> {
    const exchange: { request: ModelRequest; response?: ModelResponse } = { request };
    this.exchanges.push(exchange);
    exchange.response = await this.#inner.converse(request, signal);
    return exchange.response;
  }
}

function model(alias: string): ModelSpec {
  const spec = findModel(alias);
  if (!spec) throw new Error(`${alias} is not in the model catalogue`);
  return spec;
}

const texts = Array.from({ length: 50 }, (_, n) => ({ id: `t${n + 1}`, text: `Review ${n + 1}: the kettle boils fast but the lid ${n % 2 ? "rattles" : "sticks"}.` }));

describe("classifyItems on the strict Bedrock emulator", () => {
  it("labels 50 texts on Nova Lite in JSON in chunks its 5,000-token output cap can answer, never cut off, never above the cap", async () => {
    // In JSON the output cap binds (in lines one call takes all 50: see the next test).
    const nova: ModelSpec = { ...model("nova-lite"), outputFormat: "json" };
    const provider = await emulatorProvider({ lenient: [] });
    const perCall = textsPerCallCap(answerBudget(prompt.taxonomy, nova.tokenizer, "json"), nova.maxOutputTokens, "json");
    expect(perCall).toBeLessThan(50);

    const outcome = await classifyItems(
      { items: texts, prompt, model: nova, inference: resolveInference(prompt, nova), chunkSize: 50, maxReaskRounds: 1 },
      { provider, limiter: new PassThroughLimiter(), logger: silentLogger() },
    );
    expect(outcome.items.filter((it) => it.error !== null)).toEqual([]);
    expect(outcome.usage.modelCalls).toBe(Math.ceil(50 / perCall));
    for (const { request, response } of provider.exchanges) {
      expect(request.inference.maxTokens).toBeLessThanOrEqual(nova.maxOutputTokens);
      expect(response?.stopReason).not.toBe("max_tokens");
      // Sized to the chunk, with room: what the model wrote fits what was asked.
      expect(response?.usage.outputTokens ?? Infinity).toBeLessThanOrEqual(request.inference.maxTokens);
    }
  });

  it("labels a 50-text batch on every catalogue model, each within its own limits", async () => {
    const provider = await emulatorProvider({ lenient: [] });
    for (const spec of MODELS) {
      provider.exchanges.length = 0;
      const outcome = await classifyItems(
        { items: texts, prompt, model: spec, inference: resolveInference(prompt, spec), chunkSize: 50, maxReaskRounds: 1 },
        { provider, limiter: new PassThroughLimiter(), logger: silentLogger() },
      );
      expect(outcome.items.filter((it) => it.error !== null), spec.alias).toEqual([]);
      expect(provider.exchanges.length, spec.alias).toBeGreaterThan(0);
      // In the lines format every model whose context holds the prompt answers the batch in one call.
      if (spec.outputFormat === "lines" && spec.contextTokens > 16_000) expect(provider.exchanges.length, spec.alias).toBe(1);
      for (const { request, response } of provider.exchanges) {
        expect(request.modelId, spec.alias).toBe(spec.modelId);
        expect(request.inference.maxTokens, spec.alias).toBeLessThanOrEqual(spec.maxOutputTokens);
        expect(response?.stopReason, spec.alias).not.toBe("max_tokens");
      }
    }
  });

  it("answers every 50-text batch of the sample texts in one Llama 3.3 call: maxTokens has room for a chunk's spread, not only its typical length", async () => {
    // Budgeted at the typical line alone, 3 of these 70 batches ran past maxTokens by a few
    // tokens and their last text took a second call (seed 0, as the embedded stack runs it).
    const llama = model("llama3.3-70b");
    const provider = await emulatorProvider({ lenient: [], seed: 0 });
    const sample = await readTexts(path.join(PROMPTS_DIR, "../samples/product-feedback.jsonl"));
    const items = Array.from({ length: 70 * 50 }, (_, k) => ({ id: `t${k}`, text: `${sample[k % sample.length]!.text} [fleet1 #${k}]` }));
    const cutOff: number[] = [];
    for (let batch = 0; batch < 70; batch++) {
      provider.exchanges.length = 0;
      const outcome = await classifyItems(
        { items: items.slice(batch * 50, batch * 50 + 50), prompt, model: llama, inference: resolveInference(prompt, llama), chunkSize: 50, maxReaskRounds: 1 },
        { provider, limiter: new PassThroughLimiter(), logger: silentLogger() },
      );
      expect(outcome.items.filter((it) => it.error !== null)).toEqual([]);
      if (provider.exchanges.some((e) => e.response?.stopReason === "max_tokens")) cutOff.push(batch);
      expect(provider.exchanges.length, `batch ${batch}`).toBe(1);
    }
    expect(cutOff).toEqual([]);
  });

  it("says no allowed model can run, without retrying, when every model on the chain is out of its daily quota", async () => {
    const llama = model("llama3.3-70b");
    const nova = model("nova-lite");
    const provider = await emulatorProvider({ quota: { tpd: 1 } });
    const limiter = new PassThroughLimiter();
    const error = await rejection(
      classifyItems(
        {
          items: texts.slice(0, 5),
          prompt,
          model: llama,
          inference: resolveInference(prompt, llama),
          fallbacks: [{ model: nova, inference: resolveInference(prompt, nova) }],
          chunkSize: 50,
          maxReaskRounds: 1,
        },
        { provider, limiter, logger: silentLogger() },
      ),
    );
    expect(error).toMatchObject({ code: "MODEL_QUOTA_EXHAUSTED" });
    expect((error as Error).message).toMatch(/^no allowed model can run: the daily token quota is spent for llama3\.3-70b until .*, nova-lite until /);
    // One refused call per model: no retry within the batch.
    expect(provider.exchanges.map((e) => e.request.modelId)).toEqual([llama.modelId, nova.modelId]);
    expect(limiter.pausedUntil(llama.alias)).toBeGreaterThan(Date.now());
  });
});
