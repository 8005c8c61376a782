import { describe, expect, it } from "vitest";
import type { IntakeRecord, JobRecord } from "../../src/core/bulk/bulk-store.ts";
import { formatJobList } from "../../src/cli/jobs-command.ts";
import { formatBulkStatus } from "../../src/cli/status-command.ts";
import { bulkBacklog } from "../../src/app/ops/status.ts";
import { FakeBulkStore } from "../support/bulk-fakes.ts";

const T0 = "2026-11-25T10:00:00.000Z";

function request(batchId: string, texts: number): IntakeRecord["request"] {
  return { schemaVersion: 1, batchId, items: Array.from({ length: texts }, (_, k) => ({ id: `t${k}`, text: "the app crashes" })) };
}

async function accept(store: FakeBulkStore, batchId: string, model: string, texts: number, receivedAt = T0): Promise<IntakeRecord> {
  await store.accept({ batchId, payloadHash: `h-${batchId}`, model, request: request(batchId, texts), replyTo: "https://sqs.test/results", receivedAt });
  return (await store.findIntake(batchId))!;
}

async function job(store: FakeBulkStore, jobKey: string, state: JobRecord["state"], batches: IntakeRecord[]): Promise<void> {
  await store.createJob({
    jobKey,
    model: "llama3.3-70b",
    modelId: "m",
    state,
    clientRequestToken: jobKey,
    jobName: jobKey,
    inputPrefix: "in/",
    outputPrefix: "out/",
    files: [],
    records: batches.length,
    batches: batches.length,
    createdAt: T0,
  });
  for (const b of batches) await store.updateIntake(b, { state: "assigned", jobKey });
}

describe("bulkBacklog", () => {
  it("counts batches gathering per model, in open jobs, in jobs being collected and handed off, and leaves finished ones out", async () => {
    const store = new FakeBulkStore();
    await accept(store, "g1", "llama3.3-70b", 4, "2026-11-25T10:00:05.000Z");
    await accept(store, "g2", "llama3.3-70b", 3, T0);
    await accept(store, "g3", "claude-haiku", 2);
    await job(store, "running", "running", [await accept(store, "r1", "llama3.3-70b", 1), await accept(store, "r2", "llama3.3-70b", 1)]);
    await job(store, "collecting", "collecting", [await accept(store, "c1", "llama3.3-70b", 1), await accept(store, "c2", "llama3.3-70b", 1)]);
    // One batch of the collecting job is published already: no longer counted.
    await store.updateIntake((await store.findIntake("c2"))!, { state: "done" });
    await job(store, "old", "done", [await accept(store, "d1", "llama3.3-70b", 1)]);
    await store.updateIntake(await accept(store, "h1", "llama3.3-70b", 1), { state: "handing-off", handOffTo: "live" });

    const backlog = await bulkBacklog(store, ["llama3.3-70b", "claude-haiku", "nova-lite"]);
    expect(backlog.gathering).toEqual([
      { model: "llama3.3-70b", batches: 2, texts: 7, oldestReceivedAt: T0 },
      { model: "claude-haiku", batches: 1, texts: 2, oldestReceivedAt: T0 },
    ]);
    expect(backlog.inJobs).toEqual({ batches: 2, jobs: 1 });
    expect(backlog.collecting).toEqual({ batches: 1, jobs: 1 });
    expect(backlog.handingOff).toBe(1);
    expect(formatBulkStatus({ kind: "backlog", backlog })).toBe("bulk: 3 batches gathering (9 texts), 2 in jobs (1 open), 1 being collected (1 job), 1 being handed off");
  });
});

describe("formatBulkStatus", () => {
  it("says why the bulk path is not shown", () => {
    expect(formatBulkStatus({ kind: "off", why: "LABELQ_BULK_BUCKET and LABELQ_BULK_ROLE_ARN not set" })).toBe("bulk: off (LABELQ_BULK_BUCKET and LABELQ_BULK_ROLE_ARN not set)");
    expect(formatBulkStatus({ kind: "unreadable", why: 'no table "labelq-bulk"' })).toBe('bulk: unreadable: no table "labelq-bulk"');
  });
});

describe("formatJobList", () => {
  it("lists what is gathering with when its gather time ends, even with no job on record", () => {
    const gathering = [{ model: "llama3.3-70b", batches: 6, texts: 300, oldestReceivedAt: T0 }];
    const text = formatJobList([], gathering, { gatherS: 900, now: Date.parse(T0) + 60_000 });
    expect(text).toMatch(/^llama3\.3-70b\s+6\s+300\s+2026-11-25T10:00:00\.000Z\s+in 840 s \(LABELQ_BULK_GATHER_S\)$/m);
    expect(text).toMatch(/^no bulk jobs on record$/m);
    expect(formatJobList([], gathering, { gatherS: 900, now: Date.parse(T0) + 901_000 })).toMatch(/now: a job \(or live, below the model's minimum records\)/);
    expect(formatJobList([], [], { gatherS: 900, now: 0 })).toBe("no bulk jobs on record");
  });
});
