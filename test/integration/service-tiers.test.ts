import type { BedrockRuntimeClient, ConverseCommandInput } from "@aws-sdk/client-bedrock-runtime";
import { startBedrockEmulator, type BedrockEmulator, type BedrockEmulatorOptions } from "@labelq/bedrock-emulator";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { BedrockProvider } from "../../src/adapters/bedrock/bedrock-provider.ts";
import { labelBatch, type LabelBatchDeps, type LabelBatchSettings } from "../../src/core/classify/label-batch.ts";
import { requestSchema, type LabelRequest } from "../../src/core/contracts/request.ts";
import { InvalidRequestError } from "../../src/core/errors/errors.ts";
import { costUsd, findModel, type ModelSpec } from "../../src/core/models/model-registry.ts";
import type { ModelProvider, ModelRequest, ModelResponse } from "../../src/core/models/model-provider.ts";
import { Metrics } from "../../src/core/observability/metrics.ts";
import { PromptRegistry } from "../../src/core/prompts/prompt-registry.ts";
import { emulatorClient } from "../support/emulator-client.ts";
import { PROMPTS_DIR, PassThroughLimiter, rejection, silentLogger } from "../support/fakes.ts";

// Service tiers over the wire: labelBatch with the real SDK client against the strict Bedrock
// emulator (a test double), which serves flex and priority only on the models its table lists
// and sheds flex first under load (packages/bedrock-emulator/src/service-tiers.ts).

const open: { emulator: BedrockEmulator; client: BedrockRuntimeClient }[] = [];
let prompts: PromptRegistry;

beforeAll(() => {
  prompts = new PromptRegistry(PROMPTS_DIR);
});

afterEach(async () => {
  for (const { emulator, client } of open.splice(0)) {
    client.destroy();
    await emulator.close();
  }
});

/** The provider's answers and the serviceTier each Converse call carried on the wire (read in the SDK's own middleware). */
interface Wire {
  emulator: BedrockEmulator;
  provider: RecordingProvider;
  sentTiers: (string | undefined)[];
}

async function wire(options: BedrockEmulatorOptions = {}): Promise<Wire> {
  const emulator = await startBedrockEmulator({ port: 0, seed: 5, ...options });
  const client = emulatorClient(emulator.url, 1);
  open.push({ emulator, client });
  const sentTiers: (string | undefined)[] = [];
  client.middlewareStack.add(
    (next) => (args) => {
      sentTiers.push((args.input as ConverseCommandInput).serviceTier?.type);
      return next(args);
    },
    { step: "initialize", name: "recordServiceTier" },
  );
  return { emulator, provider: new RecordingProvider(new BedrockProvider(client)), sentTiers };
}

class RecordingProvider implements ModelProvider {
  readonly responses: ModelResponse[] = [];
  readonly #inner: ModelProvider;
  constructor(inner: ModelProvider) {
    this.#inner = inner;
  }
  async converse(request: ModelRequest, signal?: AbortSignal): Promise<ModelResponse> {
    const response = await this.#inner.converse(request, signal);
    this.responses.push(response);
    return response;
  }
}

function model(alias: string): ModelSpec {
  const spec = findModel(alias);
  if (!spec) throw new Error(`${alias} is not in the model catalogue`);
  return spec;
}

const settings = (over: Partial<LabelBatchSettings> = {}): LabelBatchSettings => ({
  defaultTaxonomy: "product-feedback",
  defaultPromptVersion: "prod",
  defaultModel: "llama3.3-70b",
  allowedModels: ["qwen3-32b", "gpt-oss-120b"],
  fallbackModels: [],
  chunkSize: 50,
  maxReaskRounds: 1,
  ...over,
});

function deps(provider: ModelProvider, metrics = new Metrics()): LabelBatchDeps {
  return { prompts, provider, limiter: new PassThroughLimiter(), logger: silentLogger(), metrics, retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 } };
}

function request(over: Partial<LabelRequest> = {}): LabelRequest {
  const items = Array.from({ length: 12 }, (_, n) => ({ id: `r${n + 1}`, text: `Review ${n + 1}: the kettle boils fast but the lid ${n % 2 ? "rattles" : "sticks"}.` }));
  return requestSchema().parse({ schemaVersion: 1, batchId: `tiers-${Math.random().toString(36).slice(2)}`, items, ...over });
}

/** The batch's cost at one tier's price, rounded as results report it. */
function priced(spec: ModelSpec, usage: { inputTokens: number; outputTokens: number }, tier: "default" | "flex" | "priority"): number {
  return Math.round(costUsd(spec, usage.inputTokens, usage.outputTokens, undefined, tier) * 1e6) / 1e6;
}

describe("service tiers on the strict Bedrock emulator", () => {
  it("sends a flex request to Qwen3 32B with serviceTier flex on every call, served flex and priced at the flex price", async () => {
    const { provider, sentTiers } = await wire();
    const metrics = new Metrics();
    const result = await labelBatch(request({ model: "qwen3-32b", tier: "flex" }), new Date(), settings(), deps(provider, metrics));
    expect(result.status).toBe("completed");
    expect(sentTiers.length).toBeGreaterThan(0);
    expect(sentTiers.every((t) => t === "flex")).toBe(true);
    expect(provider.responses.map((r) => r.serviceTier)).toEqual(sentTiers);
    const qwen = model("qwen3-32b");
    expect(result.usage.costUsd).toBe(priced(qwen, result.usage, "flex"));
    expect(result.usage.costUsd).toBeLessThan(priced(qwen, result.usage, "default"));
    const cost = (await metrics.registry.getSingleMetric("labelq_cost_usd_total")!.get()).values;
    expect(cost.find((v) => v.labels.tier === "flex")?.value).toBeGreaterThan(0);
  });

  it("refuses a tier the model does not offer before any call (TIER_NOT_OFFERED, not retryable)", async () => {
    const { emulator, provider, sentTiers } = await wire();
    const error = await rejection(labelBatch(request({ model: "llama3.3-70b", tier: "priority" }), new Date(), settings(), deps(provider)));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ code: "TIER_NOT_OFFERED", retryable: false });
    expect((error as Error).message).toMatch(/llama3\.3-70b" does not offer the "priority" service tier \(it offers: default\)/);
    expect(sentTiers).toEqual([]);
    expect(emulator.stats().calls).toBe(0);
  });

  it("chooses priority for a near deadline from the tier policy, and sends no tier without a policy", async () => {
    const { provider, sentTiers } = await wire();
    const near = new Date(Date.now() + 60_000).toISOString();
    const policy = { priorityWithinS: 600, flexBeyondS: 3_600 };
    const result = await labelBatch(request({ model: "gpt-oss-120b", deadline: near }), new Date(), settings({ tierPolicy: policy }), deps(provider));
    expect(result.status).toBe("completed");
    expect(new Set(sentTiers)).toEqual(new Set(["priority"]));
    expect(result.usage.costUsd).toBe(priced(model("gpt-oss-120b"), result.usage, "priority"));
    sentTiers.length = 0;
    await labelBatch(request({ model: "gpt-oss-120b", deadline: near }), new Date(), settings(), deps(provider));
    expect(new Set(sentTiers)).toEqual(new Set([undefined]));
  });

  it("runs a fallback model that lacks the request's tier on the default tier", async () => {
    const { provider, sentTiers } = await wire({ unavailableModels: ["qwen.qwen3-32b-v1:0"] });
    const result = await labelBatch(request({ model: "qwen3-32b", tier: "flex" }), new Date(), settings({ fallbackModels: ["llama3.3-70b"] }), deps(provider));
    expect(result.status).toBe("completed");
    const llama = model("llama3.3-70b");
    expect(result.items.every((it) => it.model === llama.modelId)).toBe(true);
    // Qwen's attempts went out flex; Llama's say default, since Llama 3.3 offers no flex.
    expect(sentTiers.filter((t) => t === "flex").length).toBeGreaterThan(0);
    expect(sentTiers.at(-1)).toBe("default");
    expect(result.usage.costUsd).toBe(priced(llama, result.usage, "default"));
  });

  it("retries a flex call the service shed on the default tier when the policy chose flex for a request with a deadline", async () => {
    // flexShedAt 0: flex gets no share of the concurrency cap, so the emulator sheds every flex call.
    const { provider, sentTiers } = await wire({ maxConcurrent: 4, quota: { flexShedAt: 0 } });
    const far = new Date(Date.now() + 86_400_000).toISOString();
    const result = await labelBatch(request({ model: "qwen3-32b", deadline: far }), new Date(), settings({ tierPolicy: { flexBeyondS: 3_600 } }), deps(provider));
    expect(result.status).toBe("completed");
    expect(sentTiers.length).toBeGreaterThan(1);
    expect(sentTiers[0]).toBe("flex");
    expect(sentTiers.slice(1).every((t) => t === "default")).toBe(true);
    expect(result.usage.modelCalls).toBe(sentTiers.length);
    expect(result.usage.costUsd).toBe(priced(model("qwen3-32b"), result.usage, "default"));
  });
});
