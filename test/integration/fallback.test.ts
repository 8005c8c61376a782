import { afterEach, describe, expect, it } from "vitest";
import { findModel } from "../../src/core/models/model-registry.ts";
import { makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

const llama = findModel("llama3.3-70b")!.modelId;
const claude = findModel("claude-sonnet")!.modelId;

describe("the fallback chain (Llama -> Claude by default)", () => {
  it("sends a chunk whose model is down to the fallback model at once; items record who answered", async () => {
    pipeline = await startPipeline({ emulator: { unavailableModels: [llama] }, env: { LABELQ_MODEL_MAX_ATTEMPTS: "1" } });
    pipeline.startWorker();
    await pipeline.send(makeRequest(6));
    const [result] = await pipeline.results(1);
    expect(result?.status).toBe("completed");
    expect(result?.model).toBe("llama3.3-70b");
    expect(result?.items.every((i) => i.model === claude)).toBe(true);
    const stats = pipeline.emulator.stats();
    expect(stats.byModel[llama]?.calls).toBe(1);
    expect(stats.byModel[claude]?.calls).toBe(1);
    // Priced at the model that answered, prompt-cache writes included (Claude caches the system prompt).
    const usage = result!.usage;
    expect(usage.cacheWriteInputTokens).toBeGreaterThan(0);
    // The us. profile of Claude Sonnet 4.5: list price + 10 %.
    expect(usage.costUsd).toBeCloseTo(
      1.1 * ((usage.inputTokens / 1000) * 0.003 + (usage.outputTokens / 1000) * 0.015 + (usage.cacheWriteInputTokens / 1000) * 0.00375 + (usage.cacheReadInputTokens / 1000) * 0.0003),
      5,
    );
  });

  it("hands texts the first model keeps labelling invalidly to the fallback after its rounds", async () => {
    pipeline = await startPipeline({ emulator: { faults: [{ kind: "invalid-labels", models: [llama] }] }, env: { LABELQ_MAX_REASK_ROUNDS: "1" } });
    pipeline.startWorker();
    const request = makeRequest(10);
    await pipeline.send(request);
    const [result] = await pipeline.results(1);
    expect(result?.status).toBe("completed");
    const byModel = new Map<string, number>();
    for (const it of result?.items ?? []) byModel.set(it.model ?? "", (byModel.get(it.model ?? "") ?? 0) + 1);
    expect(byModel.get(llama)).toBeGreaterThan(0);
    expect(byModel.get(claude)).toBeGreaterThan(0);
    expect((byModel.get(llama) ?? 0) + (byModel.get(claude) ?? 0)).toBe(10);
    expect(pipeline.emulator.stats().byModel[claude]?.calls).toBe(1);
  });

  it("fits Llama 3 70B's 8k context by asking for fewer texts per call, with maxTokens sized to them", async () => {
    // The 25-dimension prompt is 7,032 Llama 3 tokens in the lines format: with maxTokens sized
    // to the chunk (not the model's 2,048) about 15 texts per call fit the 8k context, so 40
    // texts take several calls and no fallback is needed.
    pipeline = await startPipeline({ env: { LABELQ_ALLOWED_MODELS: "llama3-70b" } });
    pipeline.startWorker();
    await pipeline.send(makeRequest(40, { model: "llama3-70b" }));
    const [result] = await pipeline.results(1);
    const llama3 = findModel("llama3-70b")?.modelId;
    expect(result?.status).toBe("completed");
    expect(result?.items.every((i) => i.model === llama3)).toBe(true);
    expect(pipeline.emulator.stats().byModel[llama3 ?? ""]?.calls).toBeGreaterThan(1);
    expect(pipeline.emulator.stats().byModel[claude]).toBeUndefined();
  });

  it("applies the request's inference overrides and reflects them in the prompt hash", async () => {
    pipeline = await startPipeline();
    pipeline.startWorker();
    const items = makeRequest(2).items;
    await pipeline.send({ ...makeRequest(2), items });
    await pipeline.send({ ...makeRequest(2), items, inference: { temperature: 0.1 } });
    const results = await pipeline.results(2);
    expect(new Set(results.map((r) => r.promptHash)).size).toBe(2);
    // Different parameters are a different cache scope: the second batch was not a cache hit.
    expect(results.every((r) => r.usage.cacheHits === 0)).toBe(true);
  });
});
