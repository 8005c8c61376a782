import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CatalogueError, PACKAGED_CATALOGUE, readCatalogueFile, type ModelEntry } from "../../src/core/models/model-catalogue.ts";
import { costUsd, findModel } from "../../src/core/models/model-registry.ts";
import { tierAfterShed, tierFor, wantedTier } from "../../src/core/models/service-tiers.ts";

const packaged = readCatalogueFile(PACKAGED_CATALOGUE);
const entry = (alias: string): ModelEntry => structuredClone(packaged.find((m) => m.alias === alias)!);

function problemsOf(models: unknown[]): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "labelq-tiers-")), "models.json");
  fs.writeFileSync(file, JSON.stringify({ models }));
  try {
    readCatalogueFile(file);
  } catch (error) {
    expect(error).toBeInstanceOf(CatalogueError);
    return (error as CatalogueError).problems.join("\n");
  }
  throw new Error("the catalogue was accepted");
}

describe("service tiers in the catalogue", () => {
  it("offers flex and priority on Qwen3 32B and gpt-oss-120b only, each priced, and default everywhere", () => {
    for (const m of packaged) {
      const offered = m.alias === "qwen3-32b" || m.alias === "gpt-oss-120b" ? ["flex", "priority"] : [];
      expect(m.serviceTiers, m.alias).toEqual(offered);
      for (const tier of offered) expect(m.price.tiers?.[tier as "flex"], `${m.alias} ${tier}`).toBeDefined();
    }
    expect(findModel("llama3.3-70b")!.serviceTiers).toEqual(["default"]);
    expect(findModel("qwen3-32b")!.serviceTiers).toEqual(["default", "flex", "priority"]);
  });

  it("refuses a tier price for a tier the model does not offer, and an offered tier without a price", () => {
    const qwen = entry("qwen3-32b");
    const unoffered = { ...entry("llama3.3-70b"), price: { ...entry("llama3.3-70b").price, tiers: qwen.price.tiers } };
    const unpriced = { ...qwen, alias: "qwen-unpriced", price: { ...qwen.price, tiers: { ...qwen.price.tiers!, priority: undefined } } };
    const problems = problemsOf([unoffered, unpriced]);
    expect(problems).toContain('models.0.price.tiers.flex (llama3.3-70b): a flex price needs "flex" in serviceTiers');
    expect(problems).toContain('models.0.price.tiers.priority (llama3.3-70b): a priority price needs "priority" in serviceTiers');
    expect(problems).toContain('models.1.price.tiers.priority (qwen-unpriced): serviceTiers offers "priority": give its price');
  });

  it("refuses a tier the catalogue does not know", () => {
    expect(problemsOf([{ ...entry("qwen3-32b"), serviceTiers: ["reserved"] }])).toMatch(/models\.0\.serviceTiers\.0 \(qwen3-32b\)/);
  });

  it("prices a call at the tier that served it: flex below, priority above the list price", () => {
    const qwen = findModel("qwen3-32b")!;
    const at = (tier: "default" | "flex" | "priority") => costUsd(qwen, 10_000, 1_000, undefined, tier);
    expect(at("default")).toBeCloseTo(10 * 0.00015 + 0.0006, 12);
    expect(at("flex")).toBeCloseTo(10 * 0.000075 + 0.0003, 12);
    expect(at("priority")).toBeCloseTo(10 * 0.0002625 + 0.00105, 12);
    // A model without a flex price is charged its list price (it is never sent flex anyway).
    const llama = findModel("llama3.3-70b")!;
    expect(costUsd(llama, 1_000, 1_000, undefined, "flex")).toBe(costUsd(llama, 1_000, 1_000));
  });
});

describe("tierFor", () => {
  const qwen = { serviceTiers: ["default", "flex", "priority"] as const };
  const llama = { serviceTiers: ["default"] as const };
  it("sends the wanted tier where the model offers it, default with fellBack where it does not, and nothing when none is wanted", () => {
    expect(tierFor(qwen, { tier: "flex", source: "request" })).toEqual({ tier: "flex", fellBack: false });
    expect(tierFor(llama, { tier: "flex", source: "request" })).toEqual({ tier: "default", fellBack: true });
    expect(tierFor(llama, { tier: "default", source: "request" })).toEqual({ tier: "default", fellBack: false });
    expect(tierFor(qwen, undefined)).toBeUndefined();
    // The policy's flex on a model without it: no tier at all (no explicit default, no fallback counted), so a pool's tier may apply.
    expect(tierFor(llama, { tier: "flex", source: "policy" })).toBeUndefined();
    expect(tierFor(qwen, { tier: "flex", source: "policy" })).toEqual({ tier: "flex", fellBack: false });
  });
});

describe("wantedTier", () => {
  const now = Date.parse("2026-12-07T12:00:00Z");
  const policy = { flexBeyondS: 6 * 3600, priorityWithinS: 600, flexWithoutDeadline: true };
  const inS = (s: number) => new Date(now + s * 1000).toISOString();

  it("takes the request's own tier over the policy", () => {
    expect(wantedTier("default", inS(60 * 3600), policy, now)).toEqual({ tier: "default", source: "request" });
    expect(wantedTier("priority", undefined, policy, now)).toEqual({ tier: "priority", source: "request" });
  });

  it("chooses flex for a far deadline, priority for a near or past one, and nothing in between", () => {
    expect(wantedTier(undefined, inS(6 * 3600), policy, now)).toEqual({ tier: "flex", source: "policy" });
    expect(wantedTier(undefined, inS(600), policy, now)).toEqual({ tier: "priority", source: "policy" });
    expect(wantedTier(undefined, inS(-5), policy, now)).toEqual({ tier: "priority", source: "policy" });
    expect(wantedTier(undefined, inS(601), policy, now)).toBeUndefined();
    expect(wantedTier(undefined, inS(6 * 3600 - 1), policy, now)).toBeUndefined();
  });

  it("treats a request without a deadline as backlog (flex) only when configured so", () => {
    expect(wantedTier(undefined, undefined, policy, now)).toEqual({ tier: "flex", source: "policy" });
    expect(wantedTier(undefined, undefined, { ...policy, flexWithoutDeadline: false }, now)).toBeUndefined();
  });

  it("chooses nothing without a policy, so calls go out as they did before tiers", () => {
    expect(wantedTier(undefined, inS(60), undefined, now)).toBeUndefined();
    expect(wantedTier(undefined, undefined, {}, now)).toBeUndefined();
  });
});

describe("tierAfterShed", () => {
  it("moves the policy's flex to default when there is a deadline, and keeps a producer's flex and backlog flex", () => {
    expect(tierAfterShed({ tier: "flex", source: "policy" }, true)).toEqual({ tier: "default", source: "policy" });
    expect(tierAfterShed({ tier: "flex", source: "policy" }, false)).toEqual({ tier: "flex", source: "policy" });
    expect(tierAfterShed({ tier: "flex", source: "request" }, true)).toEqual({ tier: "flex", source: "request" });
    expect(tierAfterShed({ tier: "priority", source: "policy" }, true)).toEqual({ tier: "priority", source: "policy" });
  });
});
