import { beforeAll, describe, expect, it } from "vitest";
import { answerBudget, maxTokensFor } from "../../src/core/classify/output-budget.ts";
import { labelBatch, resolveModel, type LabelBatchSettings } from "../../src/core/classify/label-batch.ts";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { resultSchema, type LabelResult } from "../../src/core/contracts/result.ts";
import { InvalidRequestError, ModelCallError, TaxonomyError } from "../../src/core/errors/errors.ts";
import type { ModelProvider, ModelRequest, ModelResponse } from "../../src/core/models/model-provider.ts";
import { findModel } from "../../src/core/models/model-registry.ts";
import { countTokens } from "../../src/core/models/token-estimator.ts";
import { forFormat, PromptRegistry, promptHash, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import type { CacheEntry, CacheStats, LabelCache } from "../../src/core/cache/label-cache.ts";
import {
  FakeModelProvider,
  PROMPTS_DIR,
  PassThroughLimiter,
  caught,
  rejection,
  silentLogger,
  validCompactLabels,
  type FakeModelOptions,
} from "../support/fakes.ts";
import { until } from "../support/until.ts";

const prompts = new PromptRegistry(PROMPTS_DIR);
let productFeedback: ResolvedPrompt;
let supportTriage: ResolvedPrompt;

beforeAll(async () => {
  // As sent: every catalogue model used here answers in the lines format.
  productFeedback = forFormat(await prompts.resolve("product-feedback", "prod"), "lines");
  supportTriage = forFormat(await prompts.resolve("support-triage", "prod"), "lines");
});

const settings: LabelBatchSettings = {
  defaultTaxonomy: "product-feedback",
  defaultPromptVersion: "prod",
  defaultModel: "llama3.3-70b",
  allowedModels: ["claude-haiku"],
  chunkSize: 50,
  maxReaskRounds: 1,
};

function request(overrides: Partial<LabelRequest> = {}): LabelRequest {
  return {
    schemaVersion: 1,
    batchId: "batch-42",
    items: [
      { id: "a", text: "Great kettle, boils fast." },
      { id: "b", text: "The lid broke on day two." },
      { id: "c", text: "Where is my order?" },
    ],
    ...overrides,
  };
}

/** A fake model that labels with whichever taxonomy the system prompt belongs to. */
function provider(damage?: FakeModelOptions["damage"]): FakeModelProvider {
  let current: ResolvedPrompt | undefined;
  const p = new FakeModelProvider({
    labeller: (text) => validCompactLabels((current ?? productFeedback).taxonomy, text),
    damage: (call) => {
      current = call.request.system === supportTriage.system ? supportTriage : productFeedback;
      return damage?.(call);
    },
    usage: { inputTokens: 1234, outputTokens: 567 },
  });
  return p;
}

async function label(req: LabelRequest, p = provider(), receivedAt = new Date(Date.now() - 5)): Promise<LabelResult> {
  return labelBatch(req, receivedAt, settings, { provider: p, limiter: new PassThroughLimiter(), logger: silentLogger(), prompts });
}

describe("resolveModel", () => {
  it("accepts the default model and an allow-listed alias", () => {
    expect(resolveModel("llama3.3-70b", settings).modelId).toBe("us.meta.llama3-3-70b-instruct-v1:0");
    expect(resolveModel("claude-haiku", settings).alias).toBe("claude-haiku");
  });

  it("rejects a registry model that is not allow-listed with MODEL_NOT_ALLOWED, listing the allowed ones", () => {
    const error = caught(() => resolveModel("claude-sonnet", settings));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).code).toBe("MODEL_NOT_ALLOWED");
    expect((error as InvalidRequestError).retryable).toBe(false);
    expect((error as Error).message).toBe('Model "claude-sonnet" is not allowed here (allowed: llama3.3-70b, claude-haiku)');
  });

  it("rejects an allow-listed alias the registry does not know", () => {
    expect((caught(() => resolveModel("gpt-x", { ...settings, allowedModels: ["gpt-x"] })) as InvalidRequestError).code).toBe("MODEL_NOT_ALLOWED");
  });

  it("says a model that does not exist does not exist, rather than that it is not allowed", () => {
    expect((caught(() => resolveModel("gpt-x", settings)) as Error).message).toBe('Model "gpt-x" does not exist (allowed here: llama3.3-70b, claude-haiku)');
  });
});

describe("labelBatch", () => {
  it("returns a completed result that validates against resultSchema", async () => {
    const result = await label(request({ attributes: { tenant: "acme", run: "7" } }));
    expect(resultSchema.safeParse(result).success).toBe(true);
    expect(result).toMatchObject({
      schemaVersion: 1,
      batchId: "batch-42",
      status: "completed",
      taxonomy: "product-feedback",
      promptVersion: "v1",
      model: "llama3.3-70b",
      attributes: { tenant: "acme", run: "7" },
    });
    expect(result.items.map((it) => it.id)).toEqual(["a", "b", "c"]);
    expect(result.items.every((it) => it.source === "model" && it.model === "us.meta.llama3-3-70b-instruct-v1:0")).toBe(true);
  });

  it("echoes no attributes as an empty object", async () => {
    expect((await label(request())).attributes).toEqual({});
  });

  it("resolves the prompt alias to its version and hashes the prompt, model and inference it used", async () => {
    const result = await label(request({ promptVersion: "prod" }));
    expect(result.promptVersion).toBe("v1");
    const model = findModel("llama3.3-70b");
    expect(model).toBeDefined();
    if (!model) return;
    expect(result.promptHash).toBe(promptHash(productFeedback, model.modelId, { temperature: 0.5, topP: 0.9, maxTokens: model.maxOutputTokens }));
  });

  it("uses the manifest's inference parameters the model takes, and maxTokens sized to the chunk", async () => {
    const p = provider();
    await label(request({ model: "claude-haiku" }), p);
    expect(p.calls[0]?.request.modelId).toBe("us.anthropic.claude-haiku-4-5-20251001-v1:0");
    // Claude Haiku 4.5 takes temperature or topP, not both: the manifest names both, the model's default choice wins.
    const haiku = findModel("claude-haiku");
    const budget = answerBudget(productFeedback.taxonomy, haiku?.tokenizer ?? { kind: "llama3" }, haiku?.outputFormat ?? "lines");
    expect(p.calls[0]?.request.inference).toEqual({ temperature: 0.5, maxTokens: maxTokensFor(3, budget, 64_000, haiku?.outputFormat ?? "lines") });
  });

  it("refuses a request override the model cannot take with INVALID_REQUEST naming what it takes, before any call", async () => {
    const p = provider();
    const error = await rejection(label(request({ model: "claude-haiku", inference: { temperature: 0.2, topP: 0.5 } }), p));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).code).toBe("INVALID_REQUEST");
    expect((error as Error).message).toContain("it takes temperature or topP, not both");
    expect(p.calls).toHaveLength(0);
  });

  it("uses the request's taxonomy and records it", async () => {
    const p = provider();
    const result = await label(request({ taxonomy: "support-triage" }), p);
    expect(p.calls[0]?.request.system).toBe(supportTriage.system);
    expect(result.taxonomy).toBe("support-triage");
    expect(result.status).toBe("completed");
    expect(Object.keys(result.items[0]?.labels ?? {})).toEqual(["category", "priority", "needs_human", "products_mentioned"]);
  });

  it("is partial when some items have errors", async () => {
    const result = await label(request(), provider(() => ({ rewrite: (t, clean) => (t.t.includes("lid") ? [] : [clean]) })));
    expect(result.status).toBe("partial");
    expect(result.items.map((it) => it.error?.code ?? null)).toEqual([null, "MISSING_FROM_OUTPUT", null]);
    expect(resultSchema.safeParse(result).success).toBe(true);
  });

  it("is failed when no item is labelled", async () => {
    const result = await label(request(), provider(() => ({ rewrite: () => [] })));
    expect(result.status).toBe("failed");
    expect(result.items.every((it) => it.error?.code === "MISSING_FROM_OUTPUT" && it.labels === null)).toBe(true);
    expect(resultSchema.safeParse(result).success).toBe(true);
  });

  it("is partial when the model rejects some texts but labels others", async () => {
    const rejected = new ModelCallError("MODEL_REJECTED_REQUEST", "m", "ValidationException: too long");
    const p = provider((call) => (call.texts.some((t) => t.t.includes("lid")) ? { error: rejected } : undefined));
    const result = await labelBatch(request(), new Date(), { ...settings, chunkSize: 1 }, {
      provider: p,
      limiter: new PassThroughLimiter(),
      logger: silentLogger(),
      prompts,
    });
    expect(result.status).toBe("partial");
    expect(result.items.map((it) => it.error?.code ?? null)).toEqual([null, "MODEL_REJECTED_REQUEST", null]);
  });

  it("throws the model's rejection when the model rejected every text, so the batch goes to the DLQ", async () => {
    const rejected = new ModelCallError("MODEL_REJECTED_REQUEST", "m", "AccessDeniedException: no model access");
    const error = await rejection(label(request(), provider(() => ({ error: rejected }))));
    expect(error).toBe(rejected);
  });

  describe("texts the model is never asked about", () => {
    const mixed = () =>
      request({
        items: [
          { id: "a", text: "Great kettle, boils fast." },
          { id: "empty", text: "" },
          { id: "blank", text: " \n\t\u200b " },
          { id: "long", text: "Too long. ".repeat(600) },
          { id: "c", text: "Where is my order?" },
        ],
      });

    it("gives an empty, a blank and an over-long text an item error and labels the rest of the batch", async () => {
      const p = provider();
      const cache = new MemoryLabelCache();
      const result = await labelBatch(mixed(), new Date(), settings, { provider: p, limiter: new PassThroughLimiter(), logger: silentLogger(), prompts, cache });
      expect(result.status).toBe("partial");
      expect(result.items.map((it) => [it.id, it.error?.code ?? "labelled"])).toEqual([
        ["a", "labelled"],
        ["empty", "TEXT_EMPTY"],
        ["blank", "TEXT_EMPTY"],
        ["long", "TEXT_TOO_LONG"],
        ["c", "labelled"],
      ]);
      expect(result.items[3]?.error?.message).toBe("the text is 6000 characters; the limit is 5000 (LABELQ_MAX_TEXT_CHARS)");
      expect(resultSchema.safeParse(result).success).toBe(true);
      // Never sent, never cached, not counted as texts sent to the model.
      expect(p.textsPerCall().flat()).toEqual(["Great kettle, boils fast.", "Where is my order?"]);
      expect(cache.entries.size).toBe(2);
      expect(result.usage.perText?.outputTokens).toBe(567 / 2);
    });

    it("takes the limit from the settings (LABELQ_MAX_TEXT_CHARS)", async () => {
      const p = provider();
      const result = await labelBatch(mixed(), new Date(), { ...settings, maxTextChars: 10_000 }, { provider: p, limiter: new PassThroughLimiter(), logger: silentLogger(), prompts });
      expect(result.items.find((it) => it.id === "long")?.error).toBeNull();
      expect(p.textsPerCall().flat()).toHaveLength(3);
    });

    it("publishes a failed result, with no model call, when no text can be sent", async () => {
      const p = provider();
      const result = await label(request({ items: [{ id: "e", text: "" }, { id: "x", text: "x".repeat(5_001) }] }), p);
      expect(result.status).toBe("failed");
      expect(result.items.map((it) => it.error?.code)).toEqual(["TEXT_EMPTY", "TEXT_TOO_LONG"]);
      expect(p.calls).toHaveLength(0);
      expect(result.usage.modelCalls).toBe(0);
    });

    it("still sends the batch to the DLQ when the model rejects every text it was asked about", async () => {
      const rejected = new ModelCallError("MODEL_REJECTED_REQUEST", "m", "AccessDeniedException: no model access");
      const error = await rejection(label(mixed(), provider(() => ({ error: rejected }))));
      expect(error).toBe(rejected);
    });
  });

  it("reports usage with cacheHits 0, the quota reserved, tokens per text and the cost rounded to 6 decimals", async () => {
    const req = request();
    const p = provider();
    const result = await label(req, p);
    const sent = p.calls[0]!.request;
    const reserved = countTokens(sent.system, { kind: "llama3" }) + countTokens(sent.user, { kind: "llama3" }) + sent.inference.maxTokens;
    const n = req.items.length;
    expect(result.usage).toEqual({
      modelCalls: 1,
      inputTokens: 1234,
      outputTokens: 567,
      cacheReadInputTokens: 0,
      cacheWriteInputTokens: 0,
      reservedTokens: reserved,
      perText: { inputTokens: Math.round((10 * 1234) / n) / 10, outputTokens: Math.round((10 * 567) / n) / 10, reservedTokens: Math.round((10 * reserved) / n) / 10 },
      cacheHits: 0,
      costUsd: Math.round((1.234 * 0.00072 + 0.567 * 0.00072) * 1e6) / 1e6,
    });
  });

  it("times the batch from receivedAt to completion", async () => {
    const receivedAt = new Date(Date.now() - 1500);
    const result = await label(request(), provider(), receivedAt);
    expect(result.timing.receivedAt).toBe(receivedAt.toISOString());
    expect(result.timing.durationMs).toBeGreaterThanOrEqual(1500);
    expect(Date.parse(result.timing.completedAt) - Date.parse(result.timing.receivedAt)).toBe(result.timing.durationMs);
  });

  it("rejects a model alias that is not allowed with MODEL_NOT_ALLOWED before calling the model", async () => {
    const p = provider();
    const error = await rejection(label(request({ model: "claude-sonnet" }), p));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).code).toBe("MODEL_NOT_ALLOWED");
    expect(p.calls).toHaveLength(0);
  });

  it("uses the default prompt version when the request names none, and an explicit version when it does", async () => {
    expect((await label(request())).promptVersion).toBe((await prompts.resolve("product-feedback", settings.defaultPromptVersion)).version);
    expect((await label(request({ promptVersion: "v1" }))).promptVersion).toBe("v1");
  });

  it("rejects an unknown prompt version with PROMPT_VERSION_NOT_FOUND", async () => {
    const error = await rejection(label(request({ promptVersion: "v7" })));
    expect(error).toBeInstanceOf(TaxonomyError);
    expect((error as TaxonomyError).code).toBe("PROMPT_VERSION_NOT_FOUND");
  });

  it("lets a retryable model failure reject the whole batch", async () => {
    const throttled = new ModelCallError("MODEL_THROTTLED", "m", "slow down");
    expect(await rejection(label(request(), provider(() => ({ error: throttled }))))).toBe(throttled);
  });

  it("asks for uncached texts and for texts cached under older definitions at the same time, not one group after the other", async () => {
    const cache = await cacheWithOneStaleDimension();
    const deps = { limiter: new PassThroughLimiter(), logger: silentLogger(), prompts, cache };

    const gated = new GatedProvider(provider());
    const second = request({ items: [{ id: "a", text: "Great kettle, boils fast." }, { id: "n", text: "Never seen before." }] });
    const result = labelBatch(second, new Date(), settings, { ...deps, provider: gated });
    // Both groups' calls are in flight before either is answered.
    await until(() => gated.started === 2);
    gated.open();
    const done = await result;
    expect(done.status).toBe("completed");
    expect(done.items.map((it) => it.source)).toEqual(["model", "model"]);
    const systems = gated.requests.map((r) => r.system);
    expect(systems).toContain(productFeedback.system);
    expect(systems.filter((s) => s !== productFeedback.system)).toHaveLength(1);
  });

  it("still labels and caches the other group when one group's call fails the batch", async () => {
    const cache = await cacheWithOneStaleDimension();
    const deps = { limiter: new PassThroughLimiter(), logger: silentLogger(), prompts, cache };
    const writesBefore = cache.writes;

    const throttled = new ModelCallError("MODEL_THROTTLED", "m", "slow down");
    const inner = provider((call) => (call.request.system === productFeedback.system ? { error: throttled } : undefined));
    const gated = new GatedProvider(inner);
    const second = request({ items: [{ id: "a", text: "Great kettle, boils fast." }, { id: "n", text: "Never seen before." }] });
    const outcome = rejection(labelBatch(second, new Date(), { ...settings, maxReaskRounds: 0 }, { ...deps, provider: gated, retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } }));
    await until(() => gated.started === 2);
    gated.open();
    expect(await outcome).toBe(throttled);
    // What the other group paid for is kept for the retry.
    expect(cache.writes).toBe(writesBefore + 1);
  });
});

/** A cache holding "Great kettle, boils fast." with one dimension labelled under an older definition. */
async function cacheWithOneStaleDimension(): Promise<MemoryLabelCache> {
  const cache = new MemoryLabelCache();
  const first = request({ items: [{ id: "a", text: "Great kettle, boils fast." }] });
  await labelBatch(first, new Date(), settings, { limiter: new PassThroughLimiter(), logger: silentLogger(), prompts, cache, provider: provider() });
  for (const entry of cache.entries.values()) {
    const [key] = Object.keys(entry.labels);
    const label = key === undefined ? undefined : entry.labels[key];
    if (label) label.h = "sha256:older-definition";
  }
  return cache;
}

/** A LabelCache in memory, for tests that need cached and stale entries. */
class MemoryLabelCache implements LabelCache {
  readonly entries = new Map<string, CacheEntry>();
  writes = 0;

  getMany(keys: readonly string[]): Promise<Map<string, CacheEntry>> {
    const hits = keys.flatMap((k): [string, CacheEntry][] => {
      const entry = this.entries.get(k);
      return entry ? [[k, structuredClone(entry)]] : [];
    });
    return Promise.resolve(new Map(hits));
  }

  putMany(entries: readonly CacheEntry[]): Promise<void> {
    this.writes += 1;
    for (const e of entries) this.entries.set(e.key, structuredClone(e));
    return Promise.resolve();
  }

  stats(): CacheStats {
    return { reads: 0, hits: 0, writes: this.writes, errors: 0, readCapacityUnits: 0, writeCapacityUnits: 0 };
  }
}

/** A provider that holds every call until `open()`, counting the calls started. */
class GatedProvider implements ModelProvider {
  started = 0;
  readonly requests: ModelRequest[] = [];
  readonly #inner: ModelProvider;
  readonly #gate: Promise<void>;
  #open: () => void = () => undefined;

  constructor(inner: ModelProvider) {
    this.#inner = inner;
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }

  open(): void {
    this.#open();
  }

  async converse(request: ModelRequest, signal?: AbortSignal): Promise<ModelResponse> {
    this.started += 1;
    this.requests.push(request);
    await this.#gate;
    return this.#inner.converse(request, signal);
  }
}
