import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import type { LabelBatchSettings } from "../../src/core/classify/label-batch.ts";
import { labelRoutedBatch } from "../../src/core/classify/label-routed-batch.ts";
import { routeText, routingPoint } from "../../src/core/classify/prompt-routing.ts";
import type { ShadowComparison } from "../../src/core/classify/shadow-recorder.ts";
import { shadowAgreement } from "../../src/app/eval/shadow-report.ts";
import { Metrics } from "../../src/core/observability/metrics.ts";
import { forFormat, PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { FakeModelProvider, PassThroughLimiter, PROMPTS_DIR, silentLogger, validCompactLabels } from "../support/fakes.ts";

/** A copy of the shipped prompts whose product-feedback manifest has the given prod alias. */
function promptsWith(prod: unknown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-canary-"));
  fs.cpSync(PROMPTS_DIR, dir, { recursive: true });
  const file = path.join(dir, "product-feedback", "manifest.json");
  const manifest = JSON.parse(fs.readFileSync(file, "utf8")) as { aliases: Record<string, unknown> };
  manifest.aliases.prod = prod;
  fs.writeFileSync(file, JSON.stringify(manifest));
  return dir;
}

const texts = Array.from({ length: 4000 }, (_, k) => `review number ${k}: the kettle ${k % 7 === 0 ? "leaks" : "works"}`);

describe("routeText", () => {
  const routes = { baseline: "v1", canary: { version: "v2", share: 0.1 }, shadow: { version: "v3", share: 0.2 } };

  it("sends a text to the same version whatever its spacing, in every call", () => {
    const a = texts.map((t) => routeText(t, routes, "pf:prod"));
    const b = texts.map((t) => routeText(`  ${t.replace(/ /g, "  ")}\n`, routes, "pf:prod"));
    expect(b).toEqual(a);
  });

  it("gives the canary and shadow their shares, and shadows only texts the baseline answers", () => {
    const r = texts.map((t) => routeText(t, routes, "pf:prod"));
    const canary = r.filter((x) => x.role === "canary").length / texts.length;
    const shadow = r.filter((x) => x.shadow === "v3").length / texts.length;
    // 4,000 texts: one standard error is about 0.5 point for 10 %.
    expect(canary).toBeGreaterThan(0.085);
    expect(canary).toBeLessThan(0.115);
    // The shadow share applies to the 90 % the canary leaves: about 18 %.
    expect(shadow).toBeGreaterThan(0.16);
    expect(shadow).toBeLessThan(0.2);
    expect(r.every((x) => x.role === "baseline" || x.shadow === undefined)).toBe(true);
  });

  it("keeps canary texts in the canary when its share grows, and splits each alias on its own", () => {
    const at10 = new Set(texts.filter((t) => routeText(t, routes, "pf:prod").role === "canary"));
    const at20 = new Set(texts.filter((t) => routeText(t, { ...routes, canary: { version: "v2", share: 0.2 } }, "pf:prod").role === "canary"));
    expect([...at10].every((t) => at20.has(t))).toBe(true);
    const other = texts.filter((t) => routeText(t, routes, "pf:staging").role === "canary");
    expect(other.filter((t) => at10.has(t)).length).toBeLessThan(at10.size / 2);
    expect(routingPoint("x", "a")).not.toBe(routingPoint("x", "b"));
  });
});

describe("PromptRegistry.routes", () => {
  it("reads an alias with canary and shadow shares, and plain aliases as before", async () => {
    const registry = new PromptRegistry(promptsWith({ version: "v1", canary: { version: "v2", share: 0.25 }, shadow: { version: "v2", share: 0.5 } }));
    expect(await registry.routes("product-feedback", "prod")).toEqual({ baseline: "v1", canary: { version: "v2", share: 0.25 }, shadow: { version: "v2", share: 0.5 } });
    expect((await registry.resolve("product-feedback", "prod")).version).toBe("v1");
    expect(await registry.routes("product-feedback", "dev")).toEqual({ baseline: "v2" });
    expect(await registry.routes("product-feedback", "v1")).toEqual({ baseline: "v1" });
  });

  it("refuses a share naming a version the manifest does not have", async () => {
    const registry = new PromptRegistry(promptsWith({ version: "v1", canary: { version: "v9", share: 0.1 } }));
    await expect(registry.routes("product-feedback", "prod")).rejects.toMatchObject({ code: "PROMPT_VERSION_NOT_FOUND" });
  });
});

describe("labelRoutedBatch", () => {
  let v1: ResolvedPrompt;
  let v2: ResolvedPrompt;
  const dir = promptsWith({ version: "v1", canary: { version: "v2", share: 0.3 }, shadow: { version: "v2", share: 0.5 } });
  const prompts = new PromptRegistry(dir);
  beforeAll(async () => {
    // As sent to the default model, which answers in the lines format.
    v1 = forFormat(await prompts.resolve("product-feedback", "v1"), "lines");
    v2 = forFormat(await prompts.resolve("product-feedback", "v2"), "lines");
  });

  // Claude Haiku's output cap takes each group of up to 60 texts in one call, so calls count groups.
  const settings: LabelBatchSettings = { defaultTaxonomy: "product-feedback", defaultPromptVersion: "prod", defaultModel: "claude-haiku", allowedModels: [], chunkSize: 60, maxReaskRounds: 0 };

  it("answers canary texts with the canary version, shadows others, and counts agreement on known flips", async () => {
    // v2 always answers sentiment "negative"; v1 answers whatever validCompactLabels gives.
    let version = "v1";
    const provider = new FakeModelProvider({
      labeller: (t) => ({ ...validCompactLabels(v1.taxonomy, t), ...(version === "v2" ? { sp: "neg" } : {}) }),
      damage: (call) => void (version = call.request.system === v2.system ? "v2" : "v1"),
    });
    const metrics = new Metrics({ defaultMetrics: false });
    const recorded: ShadowComparison[] = [];
    const request: LabelRequest = { schemaVersion: 1, batchId: "b", items: texts.slice(0, 60).map((t, k) => ({ id: `t${k}`, text: t })) };
    const result = await labelRoutedBatch(request, new Date(), settings, {
      prompts,
      limiter: new PassThroughLimiter(),
      provider,
      logger: silentLogger(),
      metrics,
      shadow: { record: (c) => Promise.resolve(void recorded.push(c)) },
    });

    const routes = await prompts.routes("product-feedback", "prod");
    const expected = request.items.map((it) => routeText(it.text, routes, "product-feedback:prod"));
    expect(result.items.map((it) => it.promptVersion)).toEqual(expected.map((r) => r.version));
    expect(result.items.map((it) => it.id)).toEqual(request.items.map((it) => it.id));
    expect(result.promptVersion).toBe("v1");
    // One call each: v1's texts, the canary's texts, the shadowed texts again under v2.
    expect(result.usage.modelCalls).toBe(3);
    for (const [k, item] of result.items.entries()) {
      if (expected[k]!.role === "canary") expect(item.labels?.sentiment_polarity).toBe("negative");
    }

    const shadowed = request.items.filter((_, k) => expected[k]!.shadow !== undefined);
    const flips = shadowed.filter((it) => result.items.find((r) => r.id === it.id)!.labels!.sentiment_polarity !== "negative").length;
    const counts = Object.fromEntries((await metrics.shadowLabels.get()).values.filter((v) => v.labels.dimension === "sentiment_polarity").map((v) => [String(v.labels.agreed), v.value]));
    expect(shadowed.length).toBeGreaterThan(5);
    expect(flips).toBeGreaterThan(0);
    expect(counts).toEqual({ true: shadowed.length - flips, false: flips });
    // Every other dimension agrees: the versions differ only in sentiment.
    const language = (await metrics.shadowLabels.get()).values.filter((v) => v.labels.dimension === "language");
    expect(Object.fromEntries(language.map((v) => [String(v.labels.agreed), v.value]))).toEqual({ true: shadowed.length, false: 0 });

    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ taxonomy: "product-feedback", alias: "prod", baseline: "v1", shadow: "v2" });
    expect(recorded[0]!.pairs.sentiment_polarity).toHaveLength(shadowed.length);
    expect(recorded[0]!.pairs.sentiment_polarity!.every(([, shadow]) => shadow === "negative")).toBe(true);
  });

  it("labels an alias without shares as one version and says so on every item", async () => {
    const provider = new FakeModelProvider({ labeller: (t) => validCompactLabels(v1.taxonomy, t) });
    const result = await labelRoutedBatch(
      { schemaVersion: 1, batchId: "b", promptVersion: "dev", items: [{ id: "a", text: "hello" }] },
      new Date(),
      settings,
      { prompts, limiter: new PassThroughLimiter(), provider, logger: silentLogger() },
    );
    expect(result.items[0]!.promptVersion).toBe("v2");
    expect(provider.calls).toHaveLength(1);
  });
});

describe("shadowAgreement", () => {
  it("computes the same kappa from pair counts as from the pairs (worked example 8/13)", async () => {
    const taxonomy = (await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v1")).taxonomy;
    // baseline p p n n p, shadow p n n n p
    const rows = shadowAgreement(taxonomy, {
      sentiment_polarity: [
        { baseline: "positive", shadow: "positive", count: 2 },
        { baseline: "positive", shadow: "negative", count: 1 },
        { baseline: "negative", shadow: "negative", count: 2 },
      ],
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]!.value).toBeCloseTo(8 / 13, 12);
    expect(rows[0]).toMatchObject({ compared: 5, exactAgreement: 0.8, metric: "kappa", disagreements: [{ baseline: "positive", shadow: "negative", count: 1 }] });
  });
});
