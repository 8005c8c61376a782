import { describe, expect, it } from "vitest";
import type { InputObject } from "../src/jobs/input-records.ts";
import { type CreateJobRequest, parseCreateJobBody } from "../src/jobs/job-request.ts";
import { type JobsOptions, jobsOptionsSchema } from "../src/jobs/job-settings.ts";
import { JobStore } from "../src/jobs/job-store.ts";
import type { JobStorage } from "../src/jobs/s3-io.ts";
import { isControlError } from "../src/jobs/control-plane-errors.ts";

// The emulator's job store driven by hand (manual steps, a clock the test moves), for the rules
// whose timing a run over the wire cannot pin down: what a repeated clientRequestToken answers,
// and what a job becomes at its timeout. Sources: docs/bedrock-fidelity.md, "Batch inference".

const HOUR_MS = 1_000;

/** S3 in memory: input files written by the test, output written by the jobs. */
function memoryStorage(): JobStorage & { objects: Map<string, string> } {
  const objects = new Map<string, string>();
  return {
    objects,
    list: (bucket, prefix): Promise<InputObject[]> =>
      Promise.resolve([...objects.entries()].filter(([k]) => k.startsWith(`${bucket}/${prefix}`)).map(([k, v]) => ({ key: k.slice(bucket.length + 1), size: v.length }))),
    read: (bucket, key) => Promise.resolve(objects.get(`${bucket}/${key}`) ?? ""),
    write: (bucket, key, body) => {
      objects.set(`${bucket}/${key}`, body);
      return Promise.resolve();
    },
  };
}

function setup(options: JobsOptions = {}) {
  let now = Date.parse("2026-01-01T00:00:00Z");
  const storage = memoryStorage();
  const settings = jobsOptionsSchema.parse({ manual: true, hourMs: HOUR_MS, quotas: { minRecordsPerJob: 1 }, ...options });
  const store = new JobStore({ storage, settings: () => settings, now: () => now, seed: 1, lenient: () => new Set(), labelErrors: () => ({}) });
  const line = (id: string) =>
    JSON.stringify({ recordId: id, modelInput: { messages: [{ role: "user", content: [{ text: `review ${id}: the kettle broke` }] }], inferenceConfig: { maxTokens: 256 } } });
  storage.objects.set("bucket/in/part-0.jsonl", ["r1", "r2", "r3"].map(line).join("\n"));
  return {
    store,
    storage,
    tick: (ms: number) => {
      now += ms;
    },
    status: (arn: string) => store.get(arn.slice(arn.lastIndexOf("/") + 1))?.status,
    advance: (arn: string) => store.advance(arn.slice(arn.lastIndexOf("/") + 1)),
  };
}

function request(overrides: Record<string, unknown> = {}): CreateJobRequest {
  const parsed = parseCreateJobBody(
    JSON.stringify({
      jobName: "labelq-20260101T000000Z-abc123",
      roleArn: "arn:aws:iam::000000000000:role/labelq-bedrock-batch",
      modelId: "us.meta.llama3-3-70b-instruct-v1:0",
      clientRequestToken: "token-1",
      modelInvocationType: "Converse",
      inputDataConfig: { s3InputDataConfig: { s3Uri: "s3://bucket/in/" } },
      outputDataConfig: { s3OutputDataConfig: { s3Uri: "s3://bucket/out/" } },
      ...overrides,
    }),
  );
  if (isControlError(parsed)) throw new Error(parsed.message);
  return parsed;
}

function arnOf(answer: ReturnType<JobStore["create"]>): string {
  if (isControlError(answer) || answer.jobArn === undefined) throw new Error(`no jobArn in ${JSON.stringify(answer)}`);
  return answer.jobArn;
}

describe("a repeated clientRequestToken", () => {
  it("is ignored without an error and, by default, answered without a jobArn: only that much is documented", () => {
    const s = setup();
    const first = arnOf(s.store.create(request(), "us-east-1"));
    expect(s.store.create(request(), "us-east-1")).toEqual({});
    expect(s.store.created).toBe(1);
    expect(s.store.all().map((j) => j.jobArn)).toEqual([first]);
  });

  it("is answered with the first job's ARN when repeatTokenAnswer is original-arn", () => {
    const s = setup({ repeatTokenAnswer: "original-arn" });
    const first = arnOf(s.store.create(request(), "us-east-1"));
    expect(s.store.create(request(), "us-east-1")).toEqual({ jobArn: first });
    expect(s.store.created).toBe(1);
  });

  it("with other parameters is a ConflictException either way, and creates nothing", () => {
    for (const repeatTokenAnswer of ["no-arn", "original-arn"] as const) {
      const s = setup({ repeatTokenAnswer });
      s.store.create(request(), "us-east-1");
      expect(s.store.create(request({ timeoutDurationInHours: 48 }), "us-east-1")).toMatchObject({ error: "ConflictException" });
      expect(s.store.created).toBe(1);
    }
  });
});

describe("a job at its timeout", () => {
  it("ends PartiallyCompleted once it has begun, with the output of what it answered", async () => {
    const s = setup({ recordsPerStep: 1 });
    const arn = arnOf(s.store.create(request(), "us-east-1"));
    while (s.status(arn) !== "InProgress") expect(await s.advance(arn)).toBe(true);
    // One record answered, then the 24 h timeout passes before the next step.
    s.tick(24 * HOUR_MS);
    await s.advance(arn);
    const job = s.store.get(arn.slice(arn.lastIndexOf("/") + 1));
    expect(job).toMatchObject({ status: "PartiallyCompleted", processedRecordCount: 1, totalRecordCount: 3 });
    const id = arn.slice(arn.lastIndexOf("/") + 1);
    expect(s.storage.objects.get(`bucket/out/${id}/part-0.jsonl.out`)?.trim().split("\n")).toHaveLength(1);
  });

  it("ends Expired when its timeout passes before it began, never InProgress", async () => {
    const s = setup();
    const arn = arnOf(s.store.create(request(), "us-east-1"));
    while (s.status(arn) !== "Scheduled") expect(await s.advance(arn)).toBe(true);
    s.tick(24 * HOUR_MS);
    await s.advance(arn);
    const id = arn.slice(arn.lastIndexOf("/") + 1);
    expect(s.status(arn)).toBe("Expired");
    expect(s.store.history(id)?.map((h) => h.status)).not.toContain("InProgress");
    expect([...s.storage.objects.keys()].filter((k) => k.startsWith("bucket/out/"))).toEqual([]);
  });
});
