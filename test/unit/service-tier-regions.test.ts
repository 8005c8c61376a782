import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { labelBatch, type LabelBatchSettings } from "../../src/core/classify/label-batch.ts";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { CatalogueError, ModelCatalogue, PACKAGED_CATALOGUE, readCatalogueFile, type ModelEntry } from "../../src/core/models/model-catalogue.ts";
import type { ModelProvider, ModelRequest, ModelResponse } from "../../src/core/models/model-provider.ts";
import { findModel } from "../../src/core/models/model-registry.ts";
import { offersTierIn, tierFor, type TierOffer } from "../../src/core/models/service-tiers.ts";
import { type PoolRoute, runWithRoute } from "../../src/core/quota/pool-route.ts";
import type { ModelCall } from "../../src/core/quota/rate-limiter.ts";
import { forFormat, PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { FakeModelProvider, PROMPTS_DIR, PassThroughLimiter, silentLogger, validCompactLabels } from "../support/fakes.ts";

const packaged = readCatalogueFile(PACKAGED_CATALOGUE);
const entry = (alias: string): ModelEntry => structuredClone(packaged.find((m) => m.alias === alias)!);

function problemsOf(models: unknown[]): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "labelq-tier-regions-")), "models.json");
  fs.writeFileSync(file, JSON.stringify({ models }));
  try {
    readCatalogueFile(file);
  } catch (error) {
    expect(error).toBeInstanceOf(CatalogueError);
    return (error as CatalogueError).problems.join("\n");
  }
  return "";
}

// Qwen3 32B offers flex and priority in us-east-1 and eleven other Regions, not in us-west-1.
const qwen: TierOffer = { serviceTiers: ["default", "flex", "priority"], tierRegions: ["us-east-1", "eu-west-1"] };
const anywhere: TierOffer = { serviceTiers: ["default", "flex"] };
const llama: TierOffer = { serviceTiers: ["default"] };

describe("catalogue tierRegions", () => {
  it("gives Qwen3 32B and gpt-oss-120b the twelve Regions of the service-tiers page, us-west-1 not among them", () => {
    for (const alias of ["qwen3-32b", "gpt-oss-120b"]) {
      const spec = findModel(alias)!;
      expect(spec.tierRegions).toHaveLength(12);
      expect(spec.tierRegions).toContain("us-east-1");
      expect(spec.tierRegions).not.toContain("us-west-1");
      expect(spec.notes.join(" ")).toMatch(/service-tiers-inference/);
    }
    expect(findModel("llama3.3-70b")!.tierRegions).toBeUndefined();
  });

  it("refuses tierRegions on a model without serviceTiers, an empty list, and a name that is not a Region", () => {
    const noTiers = { ...entry("llama3-70b"), tierRegions: ["us-east-1"] };
    const empty = { ...entry("qwen3-32b"), tierRegions: [] };
    const notRegion = { ...entry("gpt-oss-120b"), tierRegions: ["US East"] };
    const problems = problemsOf([noTiers, empty, notRegion]);
    expect(problems).toMatch(/models\.0\.tierRegions \(llama3-70b\): needs serviceTiers/);
    expect(problems).toMatch(/models\.1\.tierRegions \(qwen3-32b\)/);
    expect(problems).toMatch(/models\.2\.tierRegions\.0 \(gpt-oss-120b\): an AWS Region/);
  });

  it("keeps a model without tierRegions offering its tiers wherever it answers", () => {
    const { tierRegions: _regions, ...rest } = entry("qwen3-32b");
    const spec = new ModelCatalogue([rest], "us").find("qwen3-32b")!;
    expect(spec.tierRegions).toBeUndefined();
    expect(offersTierIn(spec, "flex", "us-west-1")).toBe(true);
  });
});

describe("tierFor in the call's Region", () => {
  it("sends the producer's tier where the Region offers it, and default counted as a fallback where it does not", () => {
    expect(tierFor(qwen, { tier: "flex", source: "request" }, { region: "us-east-1" })).toEqual({ tier: "flex", fellBack: false });
    expect(tierFor(qwen, { tier: "priority", source: "request" }, { region: "us-west-1" })).toEqual({ tier: "default", fellBack: true });
    expect(tierFor(qwen, { tier: "default", source: "request" }, { region: "us-west-1" })).toEqual({ tier: "default", fellBack: false });
  });

  it("drops the policy's tier where the Region lacks it (a preference), leaving the pool's tier to apply only where offered", () => {
    expect(tierFor(qwen, { tier: "flex", source: "policy" }, { region: "us-west-1" })).toBeUndefined();
    expect(tierFor(qwen, { tier: "flex", source: "policy" }, { region: "us-west-1", poolTier: "priority" })).toBeUndefined();
    expect(tierFor(llama, { tier: "flex", source: "policy" }, { region: "us-east-1", poolTier: "flex" })).toBeUndefined();
    expect(tierFor(qwen, { tier: "priority", source: "policy" }, { region: "eu-west-1", poolTier: "flex" })).toEqual({ tier: "priority", fellBack: false });
  });

  it("applies a pool's tier to calls that want none, only where the model offers it in the pool's Region", () => {
    expect(tierFor(qwen, undefined, { region: "us-east-1", poolTier: "flex" })).toEqual({ tier: "flex", fellBack: false });
    expect(tierFor(qwen, undefined, { region: "us-west-1", poolTier: "flex" })).toBeUndefined();
    expect(tierFor(llama, undefined, { region: "us-east-1", poolTier: "flex" })).toBeUndefined();
    expect(tierFor(qwen, { tier: "priority", source: "request" }, { region: "us-east-1", poolTier: "flex" })).toEqual({ tier: "priority", fellBack: false });
  });

  it("takes the catalogue at its word when the Region is unknown or the model lists none", () => {
    expect(tierFor(qwen, { tier: "flex", source: "policy" })).toEqual({ tier: "flex", fellBack: false });
    expect(tierFor(anywhere, { tier: "flex", source: "request" }, { region: "us-west-1" })).toEqual({ tier: "flex", fellBack: false });
    expect(tierFor(qwen, undefined)).toBeUndefined();
  });
});

// The choice is made when the limiter starts the call, in the route of the pool it chose.

/** A limiter that routes each call to the next of `routes` in turn, as PooledLimiter runs a call in its pool's route. */
class RoutingLimiter extends PassThroughLimiter {
  readonly #routes: PoolRoute[];
  #turn = 0;
  constructor(regions: { region: string; tier?: "flex" | "priority" }[]) {
    super();
    this.#routes = regions.map((r) => ({ poolId: r.region, ...r, takeOut: () => undefined }));
  }
  override schedule<T>(call: ModelCall, task: () => Promise<T>): Promise<T> {
    const route = this.#routes[this.#turn++ % this.#routes.length]!;
    return super.schedule(call, () => runWithRoute(route, task));
  }
}

/** Answers like a model, serving each call on the tier it was sent with (as Bedrock names it in the response). */
class TierEchoProvider implements ModelProvider {
  readonly sent: (string | undefined)[] = [];
  readonly #inner: FakeModelProvider;
  constructor(prompt: ResolvedPrompt) {
    this.#inner = new FakeModelProvider({ labeller: (text) => validCompactLabels(prompt.taxonomy, text), usage: { inputTokens: 900, outputTokens: 100 } });
  }
  async converse(request: ModelRequest, signal?: AbortSignal): Promise<ModelResponse> {
    this.sent.push(request.serviceTier);
    const response = await this.#inner.converse(request, signal);
    return request.serviceTier === undefined ? response : { ...response, serviceTier: request.serviceTier };
  }
}

describe("a batch over pools in a Region with tiers and one without", () => {
  const prompts = new PromptRegistry(PROMPTS_DIR);
  let prompt: ResolvedPrompt;
  beforeAll(async () => {
    prompt = forFormat(await prompts.resolve("product-feedback", "prod"), "lines");
  });
  const settings: LabelBatchSettings = { defaultTaxonomy: "product-feedback", defaultPromptVersion: "prod", defaultModel: "qwen3-32b", allowedModels: [], chunkSize: 2, maxReaskRounds: 0 };
  const request = (over: Partial<LabelRequest> = {}): LabelRequest => ({
    schemaVersion: 1,
    batchId: "tier-regions-1",
    items: Array.from({ length: 8 }, (_, k) => ({ id: `t${k}`, text: `The kettle number ${k} boils fast.` })),
    ...over,
  });

  it("sends the producer's flex in us-east-1 and default in us-west-1, counting those calls as tier fallbacks", async () => {
    const provider = new TierEchoProvider(prompt);
    const limiter = new RoutingLimiter([{ region: "us-east-1" }, { region: "us-west-1" }]);
    const result = await labelBatch(request({ tier: "flex" }), new Date(), settings, { provider, limiter, logger: silentLogger(), prompts });
    expect(result.status).toBe("completed");
    expect(provider.sent).toEqual(["flex", "default", "flex", "default"]);
    expect(result.usage.tierFallbacks).toBe(2);
    expect(result.usage.tiers?.flex?.modelCalls).toBe(2);
    expect(result.usage.tiers?.default?.modelCalls).toBe(2);
  });

  it("sends a pool's flex only in the Region that offers it, and nothing in the other, with no fallback counted", async () => {
    const provider = new TierEchoProvider(prompt);
    const limiter = new RoutingLimiter([{ region: "us-east-1", tier: "flex" }, { region: "us-west-1", tier: "flex" }]);
    const result = await labelBatch(request(), new Date(), settings, { provider, limiter, logger: silentLogger(), prompts });
    expect(result.status).toBe("completed");
    expect(provider.sent).toEqual(["flex", undefined, "flex", undefined]);
    expect(result.usage.tierFallbacks ?? 0).toBe(0);
  });

  it("decides outside pools by the caller's Region the catalogue was resolved for (AWS_REGION)", async () => {
    const provider = new TierEchoProvider(prompt);
    const deps = { provider, limiter: new PassThroughLimiter(), logger: silentLogger(), prompts };
    const inRegion = (region: string) => ({ ...settings, catalogue: new ModelCatalogue(packaged, "us", { region }) });
    const west = await labelBatch(request({ tier: "priority" }), new Date(), inRegion("us-west-1"), deps);
    expect(provider.sent).toEqual(["default", "default", "default", "default"]);
    expect(west.usage.tierFallbacks).toBe(4);
    provider.sent.length = 0;
    await labelBatch(request({ tier: "priority", batchId: "tier-regions-2" }), new Date(), inRegion("us-east-1"), deps);
    expect(provider.sent).toEqual(["priority", "priority", "priority", "priority"]);
  });
});
