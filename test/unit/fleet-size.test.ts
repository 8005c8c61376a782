import { describe, expect, it } from "vitest";
import { estimateRun } from "../../src/app/ops/estimate.ts";
import { backlogPerTaskTarget, fleetCapacity, fleetForDeadline, fleetForEstimate, formatFleetPlan } from "../../src/app/ops/fleet-size.ts";
import { PromptRegistry } from "../../src/core/prompts/prompt-registry.ts";
import { PROMPTS_DIR } from "../support/fakes.ts";

// 2 calls of ~10k tokens per batch, 20 s per batch, 4 batches at once per task: 0.2 batches/s per task.
const profile = { callsPerBatch: 2, tokensPerBatch: 20_000, secondsPerBatch: 20, concurrency: 4 };

describe("fleetCapacity", () => {
  it("caps the fleet where the requests-per-minute quota stops feeding more tasks", () => {
    // 120 rpm / 2 calls = 1 batch/s = 5 tasks' worth.
    const c = fleetCapacity({ ...profile, quota: { rpm: 120, tpm: 0 } });
    expect(c.taskBatchesPerS).toBeCloseTo(0.2, 10);
    expect(c.quotaBatchesPerS).toBeCloseTo(1, 10);
    expect(c.maxUsefulTasks).toBe(5);
    expect(c.maxUsefulInFlight).toBe(20);
    expect(c.bindingLimit).toBe("rpm");
  });

  it("uses whichever of RPM and TPM binds first", () => {
    // 600,000 tpm / 20,000 tokens = 30 batches/min = 0.5 batches/s (RPM would allow 1/s).
    const c = fleetCapacity({ ...profile, quota: { rpm: 120, tpm: 600_000 } });
    expect(c.bindingLimit).toBe("tpm");
    expect(c.maxUsefulTasks).toBe(3);
  });

  it("rounds a fractional task up: the limiter holds the surplus of the last one", () => {
    expect(fleetCapacity({ ...profile, quota: { rpm: 130, tpm: 0 } }).maxUsefulTasks).toBe(6);
  });

  it("has no ceiling without a quota", () => {
    const c = fleetCapacity({ ...profile, quota: { rpm: 0, tpm: 0 } });
    expect(c.maxUsefulTasks).toBeUndefined();
    expect(c.bindingLimit).toBe("none");
  });

  it("rejects a profile that cannot be measured", () => {
    expect(() => fleetCapacity({ ...profile, secondsPerBatch: 0, quota: { rpm: 1, tpm: 0 } })).toThrow(/secondsPerBatch must be a positive number/);
  });
});

describe("fleetForDeadline", () => {
  it("sizes the fleet for the deadline when the quota allows it", () => {
    // 360 batches in 10 minutes = 0.6 batches/s = 3 tasks.
    const plan = fleetForDeadline({ ...profile, quota: { rpm: 120, tpm: 0 } }, 360, 600);
    expect(plan.tasks).toBe(3);
    expect(plan.meetsDeadline).toBe(true);
    expect(plan.drainS).toBeCloseTo(600, 6);
  });

  it("stops at the quota's ceiling and says the deadline cannot be met", () => {
    // 1,200 batches in 10 minutes would need 10 tasks; the quota feeds 5 (1 batch/s): 20 minutes.
    const plan = fleetForDeadline({ ...profile, quota: { rpm: 120, tpm: 0 } }, 1_200, 600);
    expect(plan.tasksForDeadline).toBe(10);
    expect(plan.tasks).toBe(5);
    expect(plan.meetsDeadline).toBe(false);
    expect(plan.drainS).toBeCloseTo(1_200, 6);
    expect(formatFleetPlan(plan, 1_200, 600, 4)).toMatch(/workers: 5 \(the deadline alone would ask for 10\)[\s\S]*cannot be met within this quota/);
  });

  it("asks for one task for an empty backlog", () => {
    expect(fleetForDeadline({ ...profile, quota: { rpm: 120, tpm: 0 } }, 0, 60).tasks).toBe(1);
  });
});

describe("backlogPerTaskTarget", () => {
  it("is the backlog one task clears within the acceptable latency", () => {
    // 5 minutes at 20 s per batch, 4 at once: 60 batches.
    expect(backlogPerTaskTarget(profile, 300)).toBe(60);
    expect(backlogPerTaskTarget(profile, 1)).toBe(1);
  });
});

describe("fleetForEstimate", () => {
  it("takes calls and tokens per batch from an estimate, and never promises less than one batch's time", async () => {
    const prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v1");
    const texts = Array.from({ length: 500 }, (_, k) => ({ id: `t${k}`, text: `text ${k} about a kettle` }));
    const estimate = estimateRun(texts, prompt, { batchSize: 50, chunkSize: 50 });
    const m = estimate.models.find((x) => x.model.alias === "llama3.3-70b")!;
    const tokensPerBatch = (m.inputTokens + m.outputTokens) / estimate.batches;
    // A TPM quota for exactly 1 batch a minute: 10 batches take 10 minutes whatever the fleet.
    const plan = fleetForEstimate(estimate, { model: "llama3.3-70b", quota: { rpm: 0, tpm: tokensPerBatch }, concurrency: 4, secondsPerBatch: 20, deadlineS: 60 });
    expect(plan.capacity.maxUsefulTasks).toBe(1);
    expect(plan.drainS).toBeCloseTo(600, 6);
    expect(plan.meetsDeadline).toBe(false);
    const one = fleetForEstimate(estimateRun(texts.slice(0, 10), prompt, { batchSize: 50, chunkSize: 50 }), { model: "llama3.3-70b", quota: { rpm: 0, tpm: 0 }, concurrency: 4, secondsPerBatch: 20, deadlineS: 60 });
    expect(one.drainS).toBe(20);
  });
});
