import { describe, expect, it } from "vitest";
import { estimateRun } from "../../src/app/ops/estimate.ts";
import { backlogPerTaskTarget, batchProfileForEstimate, fleetCapacity, fleetForDeadline, fleetForEstimate, formatFleetPlan, settledTokensPerBatch } from "../../src/app/ops/fleet-size.ts";
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

// The example profile of deploy/cdk/cdk.json: 1 call of 12,000 tokens (9,000 in, 3,000 out), 40 s, 8 per task, 200 RPM / 600,000 TPM.
const example = { callsPerBatch: 1, tokensPerBatch: 12_000, secondsPerBatch: 40, concurrency: 8, quota: { rpm: 200, tpm: 600_000 } };
const claude = { ...example, outputTokensPerBatch: 3_000, outputBurnDown: 5 };

describe("fleetCapacity: what Bedrock counts (burn-down, reservations)", () => {
  it("keeps the plain figures for a burn-down of 1: 600,000 / 12,000 = 50 batches/min = 5 tasks of 12/min, 34 in flight", () => {
    for (const inputs of [example, { ...example, outputTokensPerBatch: 3_000, outputBurnDown: 1 }]) {
      const c = fleetCapacity(inputs);
      expect(c.settledTokensPerBatch).toBe(12_000);
      expect(c.maxUsefulTasks).toBe(5);
      expect(c.maxUsefulInFlight).toBe(34);
      expect(c.quotaShare).toBe(1);
    }
  });

  it("counts Claude's output at 5x: 9,000 + 3,000 x 5 = 24,000 quota tokens, 25 batches/min = 3 tasks (not 5) and 17 in flight (not 34)", () => {
    const c = fleetCapacity(claude);
    expect(c.settledTokensPerBatch).toBe(24_000);
    expect(c.quotaBatchesPerS * 60).toBeCloseTo(25, 10);
    expect(c.maxUsefulTasks).toBe(3);
    expect(c.maxUsefulInFlight).toBe(17);
    expect(c.bindingLimit).toBe("tpm");
  });

  it("bounds batches in flight by their reservations: maxTokens left at 64,000 reserves 73,000 a batch, floor(600,000 / 73,000) = 8 in flight = 1 task", () => {
    const c = fleetCapacity({ ...claude, reservedTokensPerBatch: 9_000 + 64_000 });
    expect(c.maxInFlightByReservation).toBe(8);
    expect(c.maxUsefulInFlight).toBe(8);
    // 8 batches of 40 s: 12 batches/min, under the 25 the settled tokens would allow.
    expect(c.quotaBatchesPerS * 60).toBeCloseTo(12, 10);
    expect(c.maxUsefulTasks).toBe(1);
    expect(c.bindingLimit).toBe("reservation");
  });

  it("leaves the throughput bound binding when maxTokens is close to the answer: 13,096 reserved lets 45 batches fly, the settled tokens 17", () => {
    const c = fleetCapacity({ ...claude, reservedTokensPerBatch: 9_000 + 4_096 });
    expect(c.maxInFlightByReservation).toBe(45);
    expect(c.maxUsefulInFlight).toBe(17);
    expect(c.bindingLimit).toBe("tpm");
  });

  it("keeps the fraction when not even one batch's reservations fit at once: 60,000 TPM / 73,000 = 0.82 batches of 40 s", () => {
    const c = fleetCapacity({ ...claude, quota: { rpm: 0, tpm: 60_000 }, reservedTokensPerBatch: 73_000 });
    expect(c.maxInFlightByReservation).toBeCloseTo(60 / 73, 10);
    expect(c.quotaBatchesPerS).toBeCloseTo(60 / 73 / 40, 10);
    expect(c.maxUsefulInFlight).toBe(1);
    expect(c.maxUsefulTasks).toBe(1);
  });

  it("refuses a burn-down it cannot apply and an output part larger than the batch", () => {
    expect(() => fleetCapacity({ ...example, outputBurnDown: 5 })).toThrow(/outputBurnDown 5 needs outputTokensPerBatch/);
    expect(() => fleetCapacity({ ...example, outputTokensPerBatch: 13_000, outputBurnDown: 5 })).toThrow(/outputTokensPerBatch must be from 0 to tokensPerBatch \(12000\), not 13000/);
    expect(() => settledTokensPerBatch({ tokensPerBatch: 10, outputTokensPerBatch: 1, outputBurnDown: 0.5 })).toThrow(/outputBurnDown must be a number of at least 1, not 0.5/);
    expect(() => fleetCapacity({ ...example, reservedTokensPerBatch: 0 })).toThrow(/reservedTokensPerBatch must be a positive number/);
  });
});

describe("fleetCapacity: a share of the quota", () => {
  it("scales TPM by the share: half of 600,000 TPM feeds 25 batches of 12,000 a minute = 3 tasks, 17 in flight", () => {
    const c = fleetCapacity({ ...example, quotaShare: 0.5 });
    expect(c.quotaShare).toBe(0.5);
    expect(c.quotaBatchesPerS * 60).toBeCloseTo(25, 10);
    expect(c.maxUsefulTasks).toBe(3);
    expect(c.maxUsefulInFlight).toBe(17);
  });

  it("scales RPM by the share: half of 120 RPM at 2 calls a batch = 0.5 batches/s = 2.5 tasks of 0.2/s, rounded up to 3", () => {
    const c = fleetCapacity({ ...profile, quota: { rpm: 120, tpm: 0 }, quotaShare: 0.5 });
    expect(c.bindingLimit).toBe("rpm");
    expect(c.quotaBatchesPerS).toBeCloseTo(0.5, 10);
    expect(c.maxUsefulTasks).toBe(3);
  });

  it("scales the reservation bound by the share: floor(300,000 / 73,000) = 4 batches in flight", () => {
    const c = fleetCapacity({ ...claude, reservedTokensPerBatch: 73_000, quotaShare: 0.5 });
    expect(c.maxInFlightByReservation).toBe(4);
    expect(c.maxUsefulInFlight).toBe(4);
  });

  it("refuses a share outside (0, 1]", () => {
    for (const quotaShare of [0, -0.5, 1.5, Number.NaN]) {
      expect(() => fleetCapacity({ ...example, quotaShare })).toThrow(/quotaShare must be above 0 and at most 1/);
    }
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

  it("says what one batch costs, the share of the quota it used and which bound binds", () => {
    // 600 Claude batches in 10 minutes at half of 600,000 TPM, maxTokens at 64,000: floor(300,000 / 73,000) = 4 in flight, 6 batches/min.
    const plan = fleetForDeadline({ ...claude, reservedTokensPerBatch: 73_000, quotaShare: 0.5 }, 600, 600);
    expect(plan.tasks).toBe(1);
    expect(plan.drainS).toBeCloseTo(6_000, 6);
    const text = formatFleetPlan(plan, 600, 600, 8);
    expect(text).toContain("one batch: 1.0 calls, 12,000 tokens (3,000 output x 5 burn-down): 24,000 quota tokens settled, 73,000 reserved while its calls run");
    expect(text).toContain("quota share: 50% of 200 RPM / 600,000 TPM (--quota-share)");
    expect(text).toMatch(/quota: 6\.0 batches\/min, 4 in flight \(reservations bind first/);
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

  it("takes the model's burn-down and what its planned calls reserve: a Claude batch costs input + output x 5", async () => {
    const prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v1");
    const texts = Array.from({ length: 500 }, (_, k) => ({ id: `t${k}`, text: `text ${k} about a kettle` }));
    const estimate = estimateRun(texts, prompt, { batchSize: 50, chunkSize: 50 });
    const m = estimate.models.find((x) => x.model.alias === "claude-sonnet")!;
    const batch = batchProfileForEstimate(estimate, "claude-sonnet");
    expect(batch.outputBurnDown).toBe(5);
    expect(batch.reservedTokensPerBatch).toBeCloseTo(m.reservedTokens / 10, 6);
    expect(settledTokensPerBatch(batch)).toBeCloseTo(m.quotaTokens / 10, 6);
    expect(settledTokensPerBatch(batch)).toBeGreaterThan(1.5 * batch.tokensPerBatch);
    // A TPM quota for exactly 1 settled Claude batch a minute: the same 10 batches take 10 minutes.
    const plan = fleetForEstimate(estimate, { model: "claude-sonnet", quota: { rpm: 0, tpm: m.quotaTokens / 10 }, concurrency: 4, secondsPerBatch: 20, deadlineS: 60 });
    expect(plan.capacity.bindingLimit).toBe("tpm");
    expect(plan.drainS).toBeCloseTo(600, 6);
    // Half of a quota that holds 2 batches' reservations at once: 1 in flight.
    const halved = fleetForEstimate(estimate, { model: "claude-sonnet", quota: { rpm: 0, tpm: 2 * batch.reservedTokensPerBatch! }, quotaShare: 0.5, concurrency: 4, secondsPerBatch: 20, deadlineS: 60 });
    expect(halved.capacity.maxInFlightByReservation).toBe(1);
    expect(halved.capacity.quotaShare).toBe(0.5);
  });
});
