import { describe, expect, it } from "vitest";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { bulkProgress, type BulkProgressSettings } from "../../src/app/demo/bulk-progress.ts";
import { DEFAULT_CATALOGUE } from "../../src/core/models/model-registry.ts";
import { FakeBulkStore } from "../support/bulk-fakes.ts";

const NOW = Date.parse("2026-11-25T12:00:00Z");
const settings: BulkProgressSettings = {
  bulk: { gatherS: 900, limits: { maxRecordsPerFile: 50_000, maxRecordsPerJob: 50_000, maxFileBytes: 1e9, maxJobBytes: 5e9, maxJobs: 20 } },
  chunkSize: 50,
  catalogue: DEFAULT_CATALOGUE,
  now: () => NOW,
};

function request(batchId: string, n: number): LabelRequest {
  return { schemaVersion: 1, batchId, items: Array.from({ length: n }, (_, k) => ({ id: `t${k}`, text: `text ${k}` })) };
}

async function accept(store: FakeBulkStore, batchId: string, n: number, agoS: number): Promise<void> {
  const receivedAt = new Date(NOW - agoS * 1000).toISOString();
  await store.accept({ batchId, payloadHash: `sha256:${batchId}`, model: "llama3.3-70b", request: request(batchId, n), replyTo: "https://sqs.test/r", receivedAt });
}

describe("bulkProgress: what a producer waiting on bulk batches can be told", () => {
  it("says how many batches gather, their records against the model's minimum, and when the gather time runs out", async () => {
    const store = new FakeBulkStore();
    for (let k = 1; k <= 6; k++) await accept(store, `b${k}`, 2_500, 61 - k);
    const line = await bulkProgress(store, new Set(["b1", "b2", "b3", "b4", "b5", "b6"]), settings);
    expect(line).toBe("gathering (llama3.3-70b): 6 batches, 300 of 100 minimum records, job in 840 s (or sooner at 50000 records)");
  });

  it("says that batches below the minimum go live when the gather time runs out, and counts other producers' batches too", async () => {
    const store = new FakeBulkStore();
    await accept(store, "other-1", 50, 100);
    await accept(store, "mine-1", 50, 10);
    const line = await bulkProgress(store, new Set(["mine-1"]), settings);
    expect(line).toBe("gathering (llama3.3-70b): 2 batches (1 of them yours), 2 of 100 minimum records, below the minimum: unless more records arrive, the batches go to the live path in 800 s");
  });

  it("names the job and Bedrock's status once the batches are in one", async () => {
    const store = new FakeBulkStore();
    await accept(store, "b1", 10, 5);
    const intake = (await store.findIntake("b1"))!;
    await store.createJob({ jobKey: "20261125T120000Z-abc", model: "llama3.3-70b", modelId: "m", state: "running", clientRequestToken: "t", jobName: "j", inputPrefix: "i/", outputPrefix: "o/", files: [], records: 1, batches: 1, createdAt: new Date(NOW).toISOString(), bedrockStatus: "InProgress" });
    await store.updateIntake(intake, { state: "assigned", jobKey: "20261125T120000Z-abc" });
    expect(await bulkProgress(store, new Set(["b1"]), settings)).toBe("in job 20261125T120000Z-abc: 1 batch, Bedrock InProgress");
  });

  it("has nothing to say while no awaited batch is on record", async () => {
    expect(await bulkProgress(new FakeBulkStore(), new Set(["b1"]), settings)).toBeUndefined();
  });
});
