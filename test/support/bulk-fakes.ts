import type { LabelRequest } from "../../src/core/contracts/request.ts";
import type { LabelResult } from "../../src/core/contracts/result.ts";
import type { AcceptOutcome, BulkStore, IntakeChanges, IntakeRecord, JobChanges, JobRecord } from "../../src/core/bulk/bulk-store.ts";
import type { JobControl, JobStatus, JobSubmission } from "../../src/adapters/bedrock/job-control.ts";
import type { ObjectStore } from "../../src/adapters/s3/object-store.ts";
import type { Outbox } from "../../src/app/bulk/outbox.ts";
import type { BulkContext } from "../../src/app/bulk/bulk-context.ts";
import type { ModelProvider, ModelRequest } from "../../src/core/models/model-provider.ts";
import type { LabelBatchSettings } from "../../src/core/classify/label-batch.ts";
import { DEFAULT_CATALOGUE } from "../../src/core/models/model-registry.ts";
import { Readable } from "node:stream";

const clone = <T>(x: T): T => structuredClone(x);

/** A BulkStore in memory with the DynamoDB store's rule: every change conditional on the version read. */
/** Label settings for bulk tests: the packaged default model and 10 texts per call, so batches make several records. */
export const BULK_SETTINGS: LabelBatchSettings = {
  defaultTaxonomy: "product-feedback",
  defaultPromptVersion: "prod",
  defaultModel: "llama3.3-70b",
  allowedModels: [],
  catalogue: DEFAULT_CATALOGUE,
  chunkSize: 10,
  maxReaskRounds: 1,
};

export class FakeBulkStore implements BulkStore {
  readonly intakes = new Map<string, IntakeRecord>();
  readonly jobRecords = new Map<string, JobRecord>();
  /** Make the next updateJob that would set these fields throw, as a crash right before it does. */
  failNextJobUpdate: ((changes: JobChanges) => boolean) | undefined;
  now: () => number = Date.now;

  accept(intake: Omit<IntakeRecord, "state" | "version" | "updatedAt">): Promise<AcceptOutcome> {
    const existing = this.intakes.get(intake.batchId);
    if (existing) {
      return Promise.resolve(
        existing.payloadHash === intake.payloadHash ? { kind: "duplicate", state: existing.state } : { kind: "conflict", storedPayloadHash: existing.payloadHash },
      );
    }
    this.intakes.set(intake.batchId, { ...clone(intake), state: "pending", version: 1, updatedAt: new Date(this.now()).toISOString() });
    return Promise.resolve({ kind: "accepted" });
  }

  findIntake(batchId: string): Promise<IntakeRecord | undefined> {
    const r = this.intakes.get(batchId);
    return Promise.resolve(r && clone(r));
  }

  pending(model: string): Promise<IntakeRecord[]> {
    const rows = [...this.intakes.values()].filter((r) => r.state === "pending" && r.model === model).sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
    return Promise.resolve(rows.map(clone));
  }

  batchesOf(jobKey: string): Promise<IntakeRecord[]> {
    return Promise.resolve([...this.intakes.values()].filter((r) => r.jobKey === jobKey && r.state !== "pending").map(clone));
  }

  handingOff(): Promise<IntakeRecord[]> {
    return Promise.resolve([...this.intakes.values()].filter((r) => r.state === "handing-off" && r.jobKey === undefined).map(clone));
  }

  updateIntake(current: IntakeRecord, changes: IntakeChanges): Promise<IntakeRecord | undefined> {
    const stored = this.intakes.get(current.batchId);
    if (!stored || stored.version !== current.version) return Promise.resolve(undefined);
    const next = { ...stored, ...clone(changes), version: stored.version + 1, updatedAt: new Date(this.now()).toISOString() };
    this.intakes.set(current.batchId, next);
    return Promise.resolve(clone(next));
  }

  createJob(job: Omit<JobRecord, "version" | "updatedAt">): Promise<void> {
    if (this.jobRecords.has(job.jobKey)) return Promise.reject(new Error(`job ${job.jobKey} exists`));
    this.jobRecords.set(job.jobKey, { ...clone(job), version: 1, updatedAt: new Date(this.now()).toISOString() });
    return Promise.resolve();
  }

  getJob(jobKey: string): Promise<JobRecord | undefined> {
    const j = this.jobRecords.get(jobKey);
    return Promise.resolve(j && clone(j));
  }

  jobs(): Promise<JobRecord[]> {
    return Promise.resolve([...this.jobRecords.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).map(clone));
  }

  updateJob(current: JobRecord, changes: JobChanges): Promise<JobRecord | undefined> {
    if (this.failNextJobUpdate?.(changes)) {
      this.failNextJobUpdate = undefined;
      return Promise.reject(new Error("the worker died here"));
    }
    const stored = this.jobRecords.get(current.jobKey);
    if (!stored || stored.version !== current.version) return Promise.resolve(undefined);
    const next: JobRecord = { ...stored, ...clone(changes), version: stored.version + 1, updatedAt: new Date(this.now()).toISOString() };
    for (const [k, v] of Object.entries(changes)) if (v === undefined) delete (next as unknown as Record<string, unknown>)[k];
    this.jobRecords.set(current.jobKey, next);
    return Promise.resolve(clone(next));
  }
}

/** An ObjectStore in memory. */
export class FakeObjectStore implements ObjectStore {
  readonly bucket = "labelq-bulk-test";
  readonly objects = new Map<string, Buffer>();

  put(key: string, body: string | Uint8Array): Promise<void> {
    this.objects.set(key, Buffer.from(body));
    return Promise.resolve();
  }

  get(key: string): Promise<string | undefined> {
    return Promise.resolve(this.objects.get(key)?.toString("utf8"));
  }

  /** Size of the chunks stream() delivers: lines are cut across chunks, as a network stream cuts them. */
  chunkBytes = 1_000;

  stream(key: string): Promise<Readable | undefined> {
    const body = this.objects.get(key);
    if (!body) return Promise.resolve(undefined);
    const chunks: Buffer[] = [];
    for (let at = 0; at < body.length; at += this.chunkBytes) chunks.push(body.subarray(at, at + this.chunkBytes));
    return Promise.resolve(Readable.from(chunks));
  }

  list(prefix: string): Promise<string[]> {
    return Promise.resolve([...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort());
  }
}

/** How a fake job ends: its status, and what becomes of its output lines. */
export interface FakeJobRun {
  status: "Completed" | "PartiallyCompleted" | "Failed" | "Expired" | "Stopped";
  message?: string;
  /** Rewrite the output lines (drop, reorder, corrupt) before they are written. */
  lines?: (lines: string[]) => string[];
  /** Write no output at all. */
  noOutput?: boolean;
}

/**
 * A JobControl in memory with Bedrock's idempotency (one job per clientRequestToken). A job is
 * answered when the test calls run(): each input record goes to the provider as a live call would.
 */
export class FakeJobControl implements JobControl {
  readonly jobs = new Map<string, { submission: JobSubmission; status: JobStatus }>();
  readonly byToken = new Map<string, string>();
  creates = 0;
  /** Refuse every submission with this error. */
  refuseWith: Error | undefined;
  /** Refuse the next submission only with this error. */
  refuseNextWith: Error | undefined;
  /** Fail every status read with this error. */
  failGetWith: Error | undefined;
  /** Runs after Bedrock made (or found) the job and before create answers: a race in that window. */
  afterCreate: (() => Promise<unknown>) | undefined;
  /** The answer format the records' prompts ask for (the model's). */
  format: ModelRequest["format"] = "lines";

  readonly objects: FakeObjectStore;
  readonly provider: ModelProvider;

  constructor(objects: FakeObjectStore, provider: ModelProvider) {
    this.objects = objects;
    this.provider = provider;
  }

  async create(job: JobSubmission): Promise<{ jobArn: string }> {
    this.creates += 1;
    if (this.refuseWith) throw this.refuseWith;
    const once = this.refuseNextWith;
    this.refuseNextWith = undefined;
    if (once) throw once;
    let jobArn = this.byToken.get(job.clientRequestToken);
    if (!jobArn) {
      jobArn = `arn:aws:bedrock:us-east-1:000000000000:model-invocation-job/job${this.jobs.size + 1}`;
      this.jobs.set(jobArn, { submission: job, status: { status: "Submitted" } });
      this.byToken.set(job.clientRequestToken, jobArn);
    }
    await this.afterCreate?.();
    return { jobArn };
  }

  get(jobArn: string): Promise<JobStatus> {
    if (this.failGetWith) return Promise.reject(this.failGetWith);
    const j = this.jobs.get(jobArn);
    return j ? Promise.resolve({ ...j.status }) : Promise.reject(new Error(`no job ${jobArn}`));
  }

  stop(jobArn: string): Promise<void> {
    const j = this.jobs.get(jobArn);
    if (j) j.status = { status: "Stopping" };
    return Promise.resolve();
  }

  /** Answer every record of a job through the provider and end it as `run` says. */
  async run(jobArn: string, run: FakeJobRun = { status: "Completed" }): Promise<void> {
    const job = this.jobs.get(jobArn);
    if (!job) throw new Error(`no job ${jobArn}`);
    const bucketPrefix = `s3://${this.objects.bucket}/`;
    const inputPrefix = job.submission.inputUri.slice(bucketPrefix.length);
    const outputPrefix = job.submission.outputUri.slice(bucketPrefix.length);
    const jobId = jobArn.slice(jobArn.lastIndexOf("/") + 1);
    if (!run.noOutput) {
      for (const key of await this.objects.list(inputPrefix)) {
        const lines: string[] = [];
        for (const line of (await this.objects.get(key))?.split("\n").filter((l) => l.length > 0) ?? []) {
          const { recordId, modelInput } = JSON.parse(line) as { recordId: string; modelInput: ConverseBody };
          const response = await this.provider.converse({
            modelId: job.submission.modelId,
            system: modelInput.system.map((s) => s.text ?? "").join(""),
            user: modelInput.messages[0]?.content[0]?.text ?? "",
            inference: { maxTokens: modelInput.inferenceConfig.maxTokens },
            format: this.format,
          });
          const modelOutput = { output: { message: { role: "assistant", content: [{ text: response.text }] } }, stopReason: response.stopReason, usage: response.usage };
          lines.push(JSON.stringify({ recordId, modelInput, modelOutput }));
        }
        const name = key.slice(key.lastIndexOf("/") + 1);
        await this.objects.put(`${outputPrefix}${jobId}/${name}.out`, (run.lines ? run.lines(lines) : lines).join("\n") + "\n");
      }
    }
    job.status = { status: run.status, message: run.message, endTime: new Date() };
  }
}

interface ConverseBody {
  system: { text?: string }[];
  messages: { content: { text?: string }[] }[];
  inferenceConfig: { maxTokens: number };
}

/** An Outbox that keeps what it was given. */
export class FakeOutbox implements Outbox {
  readonly published: { replyTo: string; result: LabelResult }[] = [];
  readonly live: LabelRequest[] = [];
  readonly dlq: { request: LabelRequest; error: Error }[] = [];

  publish(replyTo: string, result: LabelResult): Promise<void> {
    this.published.push({ replyTo, result });
    return Promise.resolve();
  }

  /** Make the next toLive fail, as an SQS error would. */
  failNextLive: Error | undefined;

  toLive(request: LabelRequest): Promise<void> {
    const failure = this.failNextLive;
    this.failNextLive = undefined;
    if (failure) return Promise.reject(failure);
    this.live.push(request);
    return Promise.resolve();
  }

  /** Make the next toDlq fail, as a crash or an SQS error between marking a batch and sending it would. */
  failNextDlq: Error | undefined;

  toDlq(request: LabelRequest, error: Error): Promise<void> {
    const failure = this.failNextDlq;
    this.failNextDlq = undefined;
    if (failure) return Promise.reject(failure);
    this.dlq.push({ request, error });
    return Promise.resolve();
  }
}

type BulkPathSettings = BulkContext["bulk"];

/** The bulk path's settings as the unit tests run it (one-record jobs, no gather time, failed jobs re-asked live), with what a test changes. */
export function bulkPathSettings(o: Partial<Omit<BulkPathSettings, "limits">> & { limits?: Partial<BulkPathSettings["limits"]> } = {}): BulkPathSettings {
  const { limits, ...rest } = o;
  return {
    prefix: "lq/",
    roleArn: "arn:aws:iam::000000000000:role/labelq-bedrock-batch",
    gatherS: 0,
    jobTimeoutH: 24,
    onJobFailure: "live",
    ...rest,
    limits: { maxRecordsPerFile: 50_000, maxRecordsPerJob: 50_000, maxFileBytes: 256_000_000, maxJobBytes: 5_000_000_000, maxJobs: 20, minRecords: 1, ...limits },
  };
}
