import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { labelRoutedBatch, type RoutedBatchSettings } from "../../src/core/classify/label-routed-batch.ts";
import { labelCascade } from "../../src/core/classify/label-cascade.ts";
import { type ModelRoute, routeTextToModel } from "../../src/core/classify/model-routes.ts";
import type { ShadowComparison } from "../../src/core/classify/shadow-recorder.ts";
import { DEFAULT_CATALOGUE } from "../../src/core/models/model-registry.ts";
import { Metrics } from "../../src/core/observability/metrics.ts";
import { ModelCallError } from "../../src/core/errors/errors.ts";
import { PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { loadModelRoutes } from "../../src/app/worker/model-routes-setup.ts";
import { caught, FakeLabelCache, FakeModelProvider, PassThroughLimiter, PROMPTS_DIR, silentLogger, validCompactLabels } from "../support/fakes.ts";

const texts = Array.from({ length: 4000 }, (_, k) => `review number ${k}: the kettle ${k % 7 === 0 ? "leaks" : "works"}`);
const teacherId = DEFAULT_CATALOGUE.find("llama3-70b")!.modelId;
const studentId = DEFAULT_CATALOGUE.find("nova-micro")!.modelId;

describe("routeTextToModel", () => {
  const route: ModelRoute = {
    canary: { model: "nova-micro", share: 0.1 },
    cascade: { student: "nova-lite", share: 0.3, studentDimensions: new Set(), samples: 1, sampleTemperature: 0.9 },
    shadow: { model: "nova-micro", share: 0.5 },
  };

  it("routes a text the same way whatever its spacing, and gives each route its share in order", () => {
    const r = texts.map((t) => routeTextToModel(t, route, "pf:llama3-70b"));
    expect(texts.map((t) => routeTextToModel(`  ${t.replace(/ /g, "  ")}\n`, route, "pf:llama3-70b"))).toEqual(r);
    const share = (f: (x: (typeof r)[number]) => boolean) => r.filter(f).length / r.length;
    // 4,000 texts: one standard error is about 0.5 point at 10 %.
    expect(share((x) => x.role === "canary")).toBeGreaterThan(0.085);
    expect(share((x) => x.role === "canary")).toBeLessThan(0.115);
    // The cascade takes 30 % of the 90 % left (27 %); the shadow half of the rest (about 31.5 %).
    expect(share((x) => x.role === "cascade")).toBeGreaterThan(0.25);
    expect(share((x) => x.role === "cascade")).toBeLessThan(0.29);
    expect(share((x) => x.role === "teacher" && x.shadow === "nova-micro")).toBeGreaterThan(0.29);
    expect(share((x) => x.role === "teacher" && x.shadow === "nova-micro")).toBeLessThan(0.34);
  });

  it("keeps canary texts in the canary when its share grows, and splits each teacher on its own", () => {
    const at10 = new Set(texts.filter((t) => routeTextToModel(t, route, "pf:llama3-70b").role === "canary"));
    const at20 = new Set(texts.filter((t) => routeTextToModel(t, { ...route, canary: { model: "nova-micro", share: 0.2 } }, "pf:llama3-70b").role === "canary"));
    expect([...at10].every((t) => at20.has(t))).toBe(true);
    const other = texts.filter((t) => routeTextToModel(t, route, "pf:claude-haiku").role === "canary");
    expect(other.filter((t) => at10.has(t)).length).toBeLessThan(at10.size / 2);
  });
});

describe("labelRoutedBatch with model routes", () => {
  const prompts = new PromptRegistry(PROMPTS_DIR);
  let v1: ResolvedPrompt;
  beforeAll(async () => {
    v1 = await prompts.resolve("product-feedback", "v1");
  });
  const base = { defaultTaxonomy: "product-feedback", defaultPromptVersion: "v1", defaultModel: "llama3-70b", allowedModels: [], chunkSize: 60, maxReaskRounds: 0 };
  const request: LabelRequest = { schemaVersion: 1, batchId: "b", items: texts.slice(0, 60).map((t, k) => ({ id: `t${k}`, text: t })) };

  /** The teacher answers validCompactLabels; the student says "negative" for every sentiment. */
  function provider(): FakeModelProvider {
    let model = "";
    return new FakeModelProvider({
      labeller: (t) => ({ ...validCompactLabels(v1.taxonomy, t), ...(model === studentId ? { sp: "neg" } : {}) }),
      damage: (call) => void (model = call.request.modelId),
    });
  }

  it("answers a canary share with the student and the rest with the teacher, item by item", async () => {
    const route: ModelRoute = { canary: { model: "nova-micro", share: 0.3 } };
    const settings: RoutedBatchSettings = { ...base, modelRoutes: new Map([["llama3-70b", route]]) };
    const fake = provider();
    const result = await labelRoutedBatch(request, new Date(), settings, { prompts, limiter: new PassThroughLimiter(), provider: fake, logger: silentLogger() });
    const expected = request.items.map((it) => routeTextToModel(it.text, route, "product-feedback:llama3-70b").role);
    expect(expected.filter((r) => r === "canary").length).toBeGreaterThan(5);
    expect(result.items.map((it) => (it.model === studentId ? "canary" : it.model === teacherId ? "teacher" : it.model))).toEqual(expected);
    for (const [k, item] of result.items.entries()) expect(item.labels!.sentiment_polarity === "negative" || expected[k] === "teacher").toBe(true);
    expect(result.model).toBe("llama3-70b");
    expect(result.status).toBe("completed");
    expect(new Set(fake.calls.map((c) => c.request.modelId))).toEqual(new Set([teacherId, studentId]));
  });

  it("labels a shadow share with the student too, returns only the teacher's labels and records the comparison", async () => {
    const route: ModelRoute = { shadow: { model: "nova-micro", share: 0.5 } };
    const recorded: ShadowComparison[] = [];
    const settings: RoutedBatchSettings = { ...base, modelRoutes: new Map([["llama3-70b", route]]) };
    const result = await labelRoutedBatch(request, new Date(), settings, {
      prompts,
      limiter: new PassThroughLimiter(),
      provider: provider(),
      logger: silentLogger(),
      shadow: { record: (c) => Promise.resolve(void recorded.push(c)) },
    });
    expect(result.items.every((it) => it.model === teacherId)).toBe(true);
    const shadowed = request.items.filter((it) => {
      const r = routeTextToModel(it.text, route, "product-feedback:llama3-70b");
      return r.role === "teacher" && r.shadow === "nova-micro";
    });
    const pairs = recorded[0]!.pairs.sentiment_polarity!;
    expect(recorded[0]).toMatchObject({ alias: "model:llama3-70b", baseline: "llama3-70b", shadow: "nova-micro" });
    expect(shadowed.length).toBeGreaterThan(10);
    expect(shadowed.length).toBeLessThan(request.items.length);
    expect(pairs).toHaveLength(shadowed.length);
    expect(pairs.every(([, s]) => s === "negative")).toBe(true);
    expect(pairs.some(([t]) => t !== "negative")).toBe(true);
  });
});

describe("labelCascade", () => {
  const prompts = new PromptRegistry(PROMPTS_DIR);
  let v1: ResolvedPrompt;
  beforeAll(async () => {
    v1 = await prompts.resolve("product-feedback", "v1");
  });
  const settings = { defaultTaxonomy: "product-feedback", defaultPromptVersion: "v1", defaultModel: "llama3-70b", allowedModels: [], chunkSize: 60, maxReaskRounds: 0 };
  const items = texts.slice(0, 40).map((t, k) => ({ id: `t${k}`, text: t }));
  const request: LabelRequest = { schemaVersion: 1, batchId: "b", items };

  /**
   * The teacher answers validCompactLabels. The student says "negative" for every sentiment
   * (the gate held it), and at a raised temperature flips sarcasm on every third text.
   */
  function provider(): FakeModelProvider {
    let call = { model: "", temperature: 0 };
    const flipped = new Set(items.filter((_, k) => k % 3 === 0).map((it) => it.text));
    return new FakeModelProvider({
      labeller: (t) => {
        const clean = validCompactLabels(v1.taxonomy, t);
        if (call.model !== studentId) return clean;
        const hot = call.temperature > 0.8 && flipped.has(t);
        return { ...clean, sp: "neg", ...(hot ? { sar: clean.sar === 1 ? 0 : 1 } : {}) };
      },
      damage: (c) => void (call = { model: c.request.modelId, temperature: c.request.inference.temperature ?? 0 }),
    });
  }
  const allBut = (...held: string[]) => new Set(v1.taxonomy.dimensions.map((d) => d.key).filter((k) => !held.includes(k)));

  it("keeps the student's promoted labels and takes held and disagreed dimensions from the teacher, asking only for those", async () => {
    const fake = provider();
    const metrics = new Metrics({ defaultMetrics: false });
    const cascade = { student: "nova-micro", share: 1, studentDimensions: allBut("sentiment_polarity"), samples: 2 as const, sampleTemperature: 0.9 };
    const run = await labelCascade(request, new Date(), cascade, settings, { prompts, limiter: new PassThroughLimiter(), provider: fake, logger: silentLogger(), metrics });
    const reasons: Record<string, number> = Object.fromEntries((await metrics.cascadeTeacherDimensions.get()).values.map((v) => [String(v.labels.reason), v.value]));
    expect(reasons).toEqual({ held: 40, disagreed: 14, "student-failed": 0 });
    const teacher = new Map(items.map((it) => [it.id, validCompactLabels(v1.taxonomy, it.text)]));
    // Every label equals the teacher's: sentiment (held) and sarcasm where the samples disagreed came from it, the rest the student got right.
    const sentiment = v1.taxonomy.dimensions.find((d) => d.key === "sentiment_polarity");
    if (sentiment?.kind !== "single") throw new Error("sentiment_polarity is a single-choice dimension");
    for (const item of run.result.items) {
      const clean = teacher.get(item.id)!;
      expect(item.labels!.sentiment_polarity).toBe(sentiment.labels.find((l) => l.code === clean.sp)!.name);
      expect(item.labels!.sarcasm).toBe(clean.sar === 1);
    }
    expect(run.counts).toEqual({ texts: 40, textsToTeacher: 40, held: 40, disagreed: 14, studentFailed: 0 });
    const teacherCalls = fake.calls.filter((c) => c.request.modelId === teacherId);
    // Two groups (sentiment; sentiment and sarcasm), each with a prompt of its dimensions only.
    expect(teacherCalls).toHaveLength(2);
    expect(teacherCalls.every((c) => !c.request.system.includes("eco_consciousness") && !c.request.system.includes("Eco-consciousness"))).toBe(true);
    expect(teacherCalls.map((c) => c.texts.length).sort((a, b) => a - b)).toEqual([14, 26]);
    const studentCalls = fake.calls.filter((c) => c.request.modelId === studentId);
    expect(studentCalls).toHaveLength(2);
    expect(run.result.items.filter((it) => it.model === `${studentId}+${teacherId}`)).toHaveLength(40);
    expect(run.result.usage.modelCalls).toBe(4);
  });

  it("asks the teacher nothing when every dimension is promoted and one sample is taken, and reads the student's cache", async () => {
    const fake = provider();
    const cache = new FakeLabelCache();
    const cascade = { student: "nova-micro", share: 1, studentDimensions: allBut(), samples: 1 as const, sampleTemperature: 0.9 };
    const deps = { prompts, limiter: new PassThroughLimiter(), provider: fake, logger: silentLogger(), cache };
    await labelCascade(request, new Date(), cascade, settings, deps);
    const again = await labelCascade(request, new Date(), cascade, settings, deps);
    expect(fake.calls.map((c) => c.request.modelId)).toEqual([studentId]);
    expect(again.counts.textsToTeacher).toBe(0);
    expect(again.result.items.every((it) => it.source === "cache" && it.model === studentId)).toBe(true);
  });

  it("gives a text the student could not label to the teacher whole, through its full prompt", async () => {
    let model = "";
    const fake = new FakeModelProvider({
      labeller: (t) => validCompactLabels(v1.taxonomy, t),
      // The student leaves out the first text.
      damage: (c) => {
        model = c.request.modelId;
        return model === studentId ? { rewrite: (text, clean) => (text.t === items[0]!.text ? [] : [clean]) } : undefined;
      },
    });
    const cascade = { student: "nova-micro", share: 1, studentDimensions: allBut(), samples: 1 as const, sampleTemperature: 0.9 };
    const run = await labelCascade(request, new Date(), cascade, settings, { prompts, limiter: new PassThroughLimiter(), provider: fake, logger: silentLogger() });
    expect(run.counts).toMatchObject({ textsToTeacher: 1, studentFailed: 25, held: 0 });
    expect(run.result.status).toBe("completed");
    const rescued = run.result.items.find((it) => it.model === teacherId)!;
    expect(rescued.labels).not.toBeNull();
    expect(fake.calls.filter((c) => c.request.modelId === teacherId).map((c) => c.texts.length)).toEqual([1]);
  });
});

describe("loadModelRoutes", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-routes-"));
  const gate = path.join(dir, "gate.json");
  fs.writeFileSync(gate, JSON.stringify({ student: "nova-micro", teacher: "llama3-70b", taxonomy: "product-feedback", promptVersion: "v2", promoted: ["sarcasm", "language"], held: ["sentiment_polarity"] }));

  it("reads a cascade's student dimensions from its gate report", () => {
    const routes = loadModelRoutes(JSON.stringify({ "llama3-70b": { canary: { model: "nova-micro", share: 0.1 }, cascade: { student: "nova-micro", gate } } }), DEFAULT_CATALOGUE)!;
    const route = routes.get("llama3-70b")!;
    expect([...route.cascade!.studentDimensions]).toEqual(["sarcasm", "language"]);
    expect(route.cascade).toMatchObject({ share: 1, samples: 2, sampleTemperature: 0.9, gatedOn: { taxonomy: "product-feedback", promptVersion: "v2" } });
    expect(route.canary).toEqual({ model: "nova-micro", share: 0.1 });
  });

  it("refuses unknown models, a gate for another pair, a missing gate and a cascade without dimensions, naming each", () => {
    const problems = (json: unknown) => (caught(() => loadModelRoutes(JSON.stringify(json), DEFAULT_CATALOGUE)) as { issues?: string[] }).issues?.join("\n") ?? "";
    expect(problems({ "llama3-70b": { canary: { model: "nova-nano", share: 0.1 } } })).toContain('LABELQ_MODEL_ROUTES.llama3-70b.canary.model: model "nova-nano" is not in the model catalogue');
    expect(problems({ "claude-haiku": { cascade: { student: "nova-micro", gate } } })).toContain('gates student "nova-micro" against teacher "llama3-70b", not "nova-micro" against "claude-haiku"');
    expect(problems({ "llama3-70b": { cascade: { student: "nova-micro", gate: path.join(dir, "none.json") } } })).toContain("run `labelq distill gate --out");
    expect(problems({ "llama3-70b": { cascade: { student: "nova-micro" } } })).toContain("give exactly one of studentDimensions and gate");
    expect(problems({ "llama3-70b": { canary: { model: "nova-micro", share: 1.5 } } })).toContain("LABELQ_MODEL_ROUTES llama3-70b.canary.share");
    expect(loadModelRoutes(undefined, DEFAULT_CATALOGUE)).toBeUndefined();
  });
});

describe("model routes and service tiers", () => {
  const prompts = new PromptRegistry(PROMPTS_DIR);
  const base = { defaultTaxonomy: "product-feedback", defaultPromptVersion: "v1", defaultModel: "qwen3-32b", allowedModels: ["llama3-70b"], chunkSize: 60, maxReaskRounds: 0 };
  const items = texts.slice(0, 60).map((t, k) => ({ id: `t${k}`, text: t }));

  it("checks the tier against the model asked for, and sends a routed model's part without a tier it does not offer", async () => {
    const taxonomy = (await prompts.resolve("product-feedback", "v1")).taxonomy;
    const fake = new FakeModelProvider({ labeller: (t) => validCompactLabels(taxonomy, t) });
    const route: ModelRoute = { canary: { model: "nova-micro", share: 0.3 } };
    const settings: RoutedBatchSettings = { ...base, modelRoutes: new Map([["qwen3-32b", route], ["llama3-70b", route]]) };
    const deps = { prompts, limiter: new PassThroughLimiter(), provider: fake, logger: silentLogger() };
    const result = await labelRoutedBatch({ schemaVersion: 1, batchId: "b", tier: "flex", items }, new Date(), settings, deps);
    expect(result.status).toBe("completed");
    const byModel = new Map(fake.calls.map((c) => [c.request.modelId, c.request.serviceTier]));
    expect(byModel.get(DEFAULT_CATALOGUE.find("qwen3-32b")!.modelId)).toBe("flex");
    expect(byModel.get(studentId)).toBeUndefined();
    expect(byModel.has(studentId)).toBe(true);

    // Llama 3.3 offers no flex: refused for the producer's choice of model, whichever model a text would meet.
    await expect(labelRoutedBatch({ schemaVersion: 1, batchId: "c", model: "llama3-70b", tier: "flex", items }, new Date(), settings, deps)).rejects.toMatchObject({ code: "TIER_NOT_OFFERED" });
  });
});

describe("routed models that fail, and what a routed result names", () => {
  const prompts = new PromptRegistry(PROMPTS_DIR);
  const base = { defaultTaxonomy: "product-feedback", defaultPromptVersion: "v1", defaultModel: "llama3-70b", allowedModels: [], chunkSize: 60, maxReaskRounds: 0 };
  const items = texts.slice(0, 60).map((t, k) => ({ id: `t${k}`, text: t }));
  const request: LabelRequest = { schemaVersion: 1, batchId: "b", items };

  /** A provider whose student refuses every call (its deployment gone), the teacher answering. */
  async function refusingStudent(): Promise<FakeModelProvider> {
    const taxonomy = (await prompts.resolve("product-feedback", "v1")).taxonomy;
    return new FakeModelProvider({
      labeller: (t) => validCompactLabels(taxonomy, t),
      damage: (c) => (c.request.modelId === studentId ? { error: new ModelCallError("MODEL_REJECTED_REQUEST", studentId, "the model does not exist") } : undefined),
    });
  }

  it("gives a canary's texts to the teacher when the canary model refuses, and the batch completes", async () => {
    const fake = await refusingStudent();
    const metrics = new Metrics({ defaultMetrics: false });
    const settings: RoutedBatchSettings = { ...base, modelRoutes: new Map([["llama3-70b", { canary: { model: "nova-micro", share: 0.3 } }]]) };
    const result = await labelRoutedBatch(request, new Date(), settings, { prompts, limiter: new PassThroughLimiter(), provider: fake, logger: silentLogger(), metrics });
    expect(result.status).toBe("completed");
    expect(result.items.every((it) => it.model === teacherId)).toBe(true);
    const moved = (await metrics.fallbacks.get()).values.find((v) => v.labels.reason === "routed-model-failed");
    expect(moved?.value).toBe(items.filter((it) => routeTextToModel(it.text, { canary: { model: "nova-micro", share: 0.3 } }, "product-feedback:llama3-70b").role === "canary").length);
  });

  it("gives a cascade's texts to the teacher when the student refuses, with the teacher's prompt hash on the result", async () => {
    const fake = await refusingStudent();
    const cascade = { student: "nova-micro", share: 1, studentDimensions: new Set(["sarcasm"]), samples: 1 as const, sampleTemperature: 0.9 };
    const settings: RoutedBatchSettings = { ...base, modelRoutes: new Map([["llama3-70b", { cascade }]]) };
    const deps = { prompts, limiter: new PassThroughLimiter(), provider: fake, logger: silentLogger() };
    const routed = await labelRoutedBatch(request, new Date(), settings, deps);
    const plain = await labelRoutedBatch(request, new Date(), base, deps);
    expect(routed.status).toBe("completed");
    expect(routed.items.every((it) => it.model === teacherId)).toBe(true);
    expect(routed.promptHash).toBe(plain.promptHash);
  });

  it("names the teacher's hash and model on a cascade the teacher answers wholly, and applies a cascade only to the taxonomy and prompt version it was gated on", async () => {
    const taxonomy = (await prompts.resolve("product-feedback", "v1")).taxonomy;
    const fake = new FakeModelProvider({ labeller: (t) => validCompactLabels(taxonomy, t) });
    const deps = { prompts, limiter: new PassThroughLimiter(), provider: fake, logger: silentLogger() };
    const nothingPromoted = { student: "nova-micro", share: 1, studentDimensions: new Set<string>(), samples: 1 as const, sampleTemperature: 0.9 };
    const plain = await labelRoutedBatch(request, new Date(), base, deps);
    const wholly = await labelRoutedBatch(request, new Date(), { ...base, modelRoutes: new Map([["llama3-70b", { cascade: nothingPromoted }]]) }, deps);
    expect(wholly.promptHash).toBe(plain.promptHash);
    expect(wholly.items.every((it) => it.model === teacherId)).toBe(true);

    // Gated on v2: a v1 batch goes to the teacher alone, no student call.
    const before = fake.calls.length;
    const gated = { ...nothingPromoted, studentDimensions: new Set(["sarcasm"]), gatedOn: { taxonomy: "product-feedback", promptVersion: "v2" } };
    const v1 = await labelRoutedBatch(request, new Date(), { ...base, modelRoutes: new Map([["llama3-70b", { cascade: gated }]]) }, deps);
    expect(v1.items.every((it) => it.model === teacherId)).toBe(true);
    expect(fake.calls.slice(before).every((c) => c.request.modelId === teacherId)).toBe(true);
  });
});
