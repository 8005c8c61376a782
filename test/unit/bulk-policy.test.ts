import { describe, expect, it } from "vitest";
import { decideMode, drainSeconds, type PolicyInput } from "../../src/app/bulk/bulk-policy.ts";
import { gatherDecision } from "../../src/app/bulk/assemble-jobs.ts";
import { InvalidRequestError } from "../../src/core/errors/errors.ts";
import { findModel } from "../../src/core/models/model-registry.ts";

const now = Date.parse("2026-11-25T10:00:00Z");
const llama33 = findModel("llama3.3-70b")!;
const llama3 = findModel("llama3-70b")!;

function input(overrides: Partial<PolicyInput> = {}): PolicyInput {
  return {
    requested: undefined,
    bulkEnabled: true,
    model: llama33,
    // 200,000 texts at 200 quota tokens each against 300,000 tokens per minute: ~2.2 h to drain.
    backlogTexts: 200_000,
    liveCost: () => ({ tokensPerText: 200, textsPerCall: 50 }),
    quota: { rpm: 800, tpm: 300_000 },
    now,
    settings: { minBacklogS: 3_600, turnaroundS: 6 * 3_600, gatherS: 900 },
    ...overrides,
  };
}

describe("decideMode", () => {
  it("picks bulk in auto mode for a backlog that takes longer than the threshold to drain at the on-demand quota", () => {
    expect(decideMode(input())).toMatchObject({ mode: "bulk" });
    expect(decideMode(input()).reason).toContain("to drain at the on-demand quota");
  });

  it("keeps a small backlog live", () => {
    expect(decideMode(input({ backlogTexts: 1_000 }))).toMatchObject({ mode: "live" });
    expect(decideMode(input({ backlogTexts: 1_000 })).reason).toContain("drains live");
  });

  it("forces live when the deadline is closer than the gather time plus the expected turnaround", () => {
    const deadline = new Date(now + 2 * 3_600_000).toISOString();
    expect(decideMode(input({ deadline }))).toMatchObject({ mode: "live" });
    expect(decideMode(input({ deadline })).reason).toContain("deadline is 7200 s away");
    expect(decideMode(input({ requested: "bulk", deadline }))).toMatchObject({ mode: "live" });
    expect(decideMode(input({ deadline: new Date(now + 8 * 3_600_000).toISOString() })).mode).toBe("bulk");
  });

  it("keeps live a model without batch inference, a worker without the bulk path, and an unknown quota", () => {
    expect(decideMode(input({ model: llama3 })).reason).toMatch(/no batch inference/);
    expect(decideMode(input({ bulkEnabled: false })).reason).toMatch(/not configured/);
    expect(decideMode(input({ quota: { rpm: 0, tpm: 0 } })).reason).toMatch(/drain time is unknown/);
  });

  it("rejects an explicit bulk request for a model without batch inference as an invalid request (DLQ, never retried)", () => {
    expect(() => decideMode(input({ requested: "bulk", model: llama3 }))).toThrow(InvalidRequestError);
    expect(() => decideMode(input({ requested: "bulk", model: llama3 }))).toThrow(/llama3-70b" has no batch inference/);
    expect(() => decideMode(input({ requested: "bulk", bulkEnabled: false }))).toThrow(/LABELQ_BULK_BUCKET/);
  });

  it("prices the texts (liveCost) only when the drain time decides: auto, bulk possible, a quota and a backlog", () => {
    let priced = 0;
    const liveCost = () => {
      priced++;
      return { tokensPerText: 200, textsPerCall: 50 };
    };
    const deadline = new Date(now + 2 * 3_600_000).toISOString();
    const noNeed = [
      { requested: "live" as const },
      { requested: "bulk" as const },
      { requested: "bulk" as const, deadline },
      { bulkEnabled: false },
      { model: llama3 },
      { deadline },
      { quota: { rpm: 0, tpm: 0 } },
      { backlogTexts: 0 },
    ];
    const modes = noNeed.map((o) => decideMode(input({ ...o, liveCost })).mode);
    expect(modes).toEqual(["live", "bulk", "live", "live", "live", "live", "live", "live"]);
    expect(decideMode(input({ backlogTexts: 0, liveCost })).reason).toContain("drains live in ~0 s");
    expect(priced).toBe(0);
    expect(decideMode(input({ liveCost })).mode).toBe("bulk");
    expect(priced).toBe(1);
  });

  it("honours an explicit live or bulk", () => {
    expect(decideMode(input({ requested: "live" })).mode).toBe("live");
    expect(decideMode(input({ requested: "bulk", backlogTexts: 0 })).mode).toBe("bulk");
  });
});

describe("drainSeconds", () => {
  it("is bound by whichever of tokens and requests per minute runs out first", () => {
    expect(drainSeconds({ backlogTexts: 10_000, tokensPerText: 300, textsPerCall: 50, quota: { rpm: 0, tpm: 300_000 } })).toBe(600);
    expect(drainSeconds({ backlogTexts: 10_000, tokensPerText: 300, textsPerCall: 50, quota: { rpm: 10, tpm: 300_000 } })).toBe(1_200);
    expect(drainSeconds({ backlogTexts: 10_000, tokensPerText: 300, textsPerCall: 50, quota: { rpm: 0, tpm: 0 } })).toBeUndefined();
  });
});

describe("gatherDecision", () => {
  const limits = { maxRecordsPerJob: 1_000, maxJobs: 20, minRecords: 100 };
  it("flushes a full job at once, and a job of at least the minimum when the oldest batch waited the gather time", () => {
    expect(gatherDecision({ records: 1_000, oldestWaitedS: 1, openJobs: 0, limits, gatherS: 900 })).toBe("flush");
    expect(gatherDecision({ records: 150, oldestWaitedS: 900, openJobs: 0, limits, gatherS: 900 })).toBe("flush");
    expect(gatherDecision({ records: 150, oldestWaitedS: 10, openJobs: 0, limits, gatherS: 900 })).toBe("wait");
  });

  it("sends batches live when the gather time runs out below the minimum, and waits while the model has its quota of jobs open", () => {
    expect(gatherDecision({ records: 99, oldestWaitedS: 900, openJobs: 0, limits, gatherS: 900 })).toBe("to-live");
    expect(gatherDecision({ records: 1_000, oldestWaitedS: 900, openJobs: 20, limits, gatherS: 900 })).toBe("wait");
  });
});
