import { randomUUID } from "node:crypto";
import {
  BedrockClient,
  CreateModelInvocationJobCommand,
  GetModelInvocationJobCommand,
  ListModelInvocationJobsCommand,
  StopModelInvocationJobCommand,
  type CreateModelInvocationJobCommandInput,
  type GetModelInvocationJobCommandOutput,
  type ModelInvocationJobStatus,
} from "@aws-sdk/client-bedrock";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_CREDENTIALS, startLocalStack, type LocalStack } from "../../src/app/local/local-stack.ts";
import { until } from "../support/until.ts";

// Model invocation jobs (batch inference) against the embedded stack, over the wire with the
// real @aws-sdk/client-bedrock and client-s3 clients, built from the stack's env block as
// labelq builds its own. Each rule's source is in docs/bedrock-fidelity.md ("Batch inference").

const MODEL = "us.meta.llama3-3-70b-instruct-v1:0";
const OTHER_MODEL = "amazon.nova-micro-v1:0";
const SYSTEM = [
  "You label short product-feedback texts.",
  "",
  "## Output format",
  'Answer with one JSON object {"r":[...]}, one object per text, "i" being the text\'s number.',
  "Use these keys:",
  '- sp (sentiment_polarity): one of "pos", "neg", "neu", "mix"',
].join("\n");

let stack: LocalStack;
let bedrock: BedrockClient;
let s3: S3Client;
let bucket: string;

beforeAll(async () => {
  stack = await startLocalStack({ queuePrefix: `lq-jobs-${Date.now()}`, emulator: { seed: 7, jobs: { stepMs: 5 } } });
  bedrock = new BedrockClient({ region: stack.region, endpoint: stack.env.AWS_ENDPOINT_URL_BEDROCK, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  s3 = new S3Client({ region: stack.region, endpoint: stack.env.AWS_ENDPOINT_URL_S3, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
  bucket = stack.env.LABELQ_BULK_BUCKET as string;
});

afterEach(() => {
  stack.emulator.jobs.setFaults({});
  stack.emulator.jobs.setQuotas({});
  stack.emulator.jobs.setTiming({ stepMs: 5, manual: false, recordsPerStep: 1000, hourMs: 3_600_000 });
});

afterAll(async () => {
  bedrock.destroy();
  s3.destroy();
  await stack.close();
});

function recordLine(id: string, text: string, extra: Record<string, unknown> = {}): string {
  const modelInput = {
    system: [{ text: SYSTEM }],
    messages: [{ role: "user", content: [{ text: JSON.stringify({ i: 1, t: text }) }] }],
    inferenceConfig: { maxTokens: 256 },
    ...extra,
  };
  return JSON.stringify({ recordId: id, modelInput });
}

/** Writes files of `count` records each under a fresh prefix; returns the prefix and the record ids in input order. */
async function putInput(counts: number[], lineFor = recordLine): Promise<{ prefix: string; ids: string[] }> {
  const prefix = `in/${randomUUID()}/`;
  const ids: string[] = [];
  for (const [f, count] of counts.entries()) {
    const lines = Array.from({ length: count }, (_, k) => {
      const id = `F${f}R${String(k).padStart(5, "0")}`;
      ids.push(id);
      return lineFor(id, `text ${f}-${k}: the kettle ${k % 2 === 0 ? "is great" : "broke"}`);
    });
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}part-${f}.jsonl`, Body: `${lines.join("\n")}\n` }));
  }
  return { prefix, ids };
}

function jobInput(prefix: string, overrides: Partial<CreateModelInvocationJobCommandInput> = {}): CreateModelInvocationJobCommandInput {
  return {
    jobName: `lq-${randomUUID().slice(0, 8)}`,
    roleArn: stack.env.LABELQ_BULK_ROLE_ARN,
    modelId: MODEL,
    modelInvocationType: "Converse",
    clientRequestToken: randomUUID(),
    inputDataConfig: { s3InputDataConfig: { s3Uri: `s3://${bucket}/${prefix}` } },
    outputDataConfig: { s3OutputDataConfig: { s3Uri: `s3://${bucket}/out/` } },
    ...overrides,
  };
}

async function create(input: CreateModelInvocationJobCommandInput): Promise<string> {
  const { jobArn } = await bedrock.send(new CreateModelInvocationJobCommand(input));
  if (jobArn === undefined) throw new Error("no jobArn");
  return jobArn;
}

async function createError(input: CreateModelInvocationJobCommandInput): Promise<{ name: string; message: string; status: number | undefined }> {
  try {
    await bedrock.send(new CreateModelInvocationJobCommand(input));
  } catch (error) {
    const e = error as { name: string; message: string; $metadata: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata.httpStatusCode };
  }
  throw new Error("expected CreateModelInvocationJob to fail");
}

const get = (jobArn: string) => bedrock.send(new GetModelInvocationJobCommand({ jobIdentifier: jobArn }));

/**
 * Polls GetModelInvocationJob until the job has one of the statuses; returns the job and every
 * status it took on the way, from the emulator's record of transitions (a poll can miss a short one).
 */
async function waitFor(jobArn: string, statuses: ModelInvocationJobStatus[]): Promise<{ job: GetModelInvocationJobCommandOutput; seen: string[] }> {
  let job: GetModelInvocationJobCommandOutput | undefined;
  await until(async () => {
    job = await get(jobArn);
    return job.status !== undefined && statuses.includes(job.status);
  }, { what: `job ${jobArn} to be ${statuses.join(" or ")}`, every: 3 });
  return { job: job!, seen: statusesOf(jobArn) };
}

/** Every status a job has taken so far, oldest first. */
const statusesOf = (jobArn: string): string[] => stack.emulator.jobs.history(jobArn).map((t) => t.status);

/** Runs a manual-mode job's steps until it has `status`. */
async function stepUntil(jobArn: string, status: ModelInvocationJobStatus): Promise<void> {
  while (statusesOf(jobArn).at(-1) !== status) {
    if (!(await stack.emulator.jobs.advance(jobArn))) throw new Error(`job ${jobArn} stopped at ${statusesOf(jobArn).join(" -> ")} before ${status}`);
  }
}

async function readText(key: string): Promise<string> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await object.Body?.transformToString()) ?? "";
}

async function keysUnder(prefix: string): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key ?? "").sort();
}

const jobIdOf = (arn: string) => arn.slice(arn.lastIndexOf("/") + 1);

interface OutputLine {
  recordId: string;
  modelInput: unknown;
  modelOutput?: { output: { message: { content: { text?: string }[] } }; stopReason: string; usage: { inputTokens: number; outputTokens: number } };
  error?: { errorCode: number; errorMessage: string };
}

const parseLines = (text: string): OutputLine[] => text.trim().split("\n").map((l) => JSON.parse(l) as OutputLine);

describe("model invocation jobs: lifecycle and output", () => {
  it("runs a Converse job Submitted -> Validating -> Scheduled -> InProgress -> Completed and writes one .out per input file, every record answered, in another order", async () => {
    stack.emulator.jobs.setTiming({ stepMs: 25, recordsPerStep: 40 });
    const { prefix, ids } = await putInput([70, 60]);
    const input = jobInput(prefix);
    const jobArn = await create(input);
    expect(jobArn).toMatch(/^arn:aws:bedrock:us-east-1:\d{12}:model-invocation-job\/[a-z0-9]{12}$/);
    const { job, seen } = await waitFor(jobArn, ["Completed", "Failed", "PartiallyCompleted"]);
    expect(seen).toEqual(["Submitted", "Validating", "Scheduled", "InProgress", "Completed"]);
    expect(job).toMatchObject({
      jobArn,
      jobName: input.jobName,
      modelId: MODEL,
      roleArn: input.roleArn,
      clientRequestToken: input.clientRequestToken,
      modelInvocationType: "Converse",
      timeoutDurationInHours: 24,
      inputDataConfig: input.inputDataConfig,
      outputDataConfig: input.outputDataConfig,
      totalRecordCount: 130,
      processedRecordCount: 130,
      successRecordCount: 130,
      errorRecordCount: 0,
    });
    expect(job.submitTime).toBeInstanceOf(Date);
    expect(job.endTime!.getTime()).toBeGreaterThanOrEqual(job.submitTime!.getTime());
    expect(job.jobExpirationTime!.getTime() - job.submitTime!.getTime()).toBe(24 * 3_600_000);

    const jobId = jobIdOf(jobArn);
    expect(await keysUnder(`out/${jobId}/`)).toEqual([`out/${jobId}/manifest.json.out`, `out/${jobId}/part-0.jsonl.out`, `out/${jobId}/part-1.jsonl.out`]);
    const first = parseLines(await readText(`out/${jobId}/part-0.jsonl.out`));
    const second = parseLines(await readText(`out/${jobId}/part-1.jsonl.out`));
    const all = [...first, ...second];
    expect(new Set(all.map((l) => l.recordId))).toEqual(new Set(ids));
    expect(first.map((l) => l.recordId)).not.toEqual(ids.slice(0, 70));
    for (const line of all) {
      expect(line.error).toBeUndefined();
      expect(line.modelOutput?.stopReason).toBe("end_turn");
      // The simulated model answers the labelling request the record's modelInput carries.
      expect(JSON.parse(line.modelOutput?.output.message.content[0]?.text ?? "")).toMatchObject({ r: [{ i: 1 }] });
      expect(line.modelInput).toMatchObject({ system: [{ text: SYSTEM }] });
    }

    const manifest = JSON.parse(await readText(`out/${jobId}/manifest.json.out`)) as Record<string, number>;
    const sum = (key: "inputTokens" | "outputTokens") => all.reduce((n, l) => n + (l.modelOutput?.usage[key] ?? 0), 0);
    expect(manifest).toEqual({
      totalRecordCount: 130,
      processedRecordCount: 130,
      successRecordCount: 130,
      errorRecordCount: 0,
      inputTokenCount: sum("inputTokens"),
      outputTokenCount: sum("outputTokens"),
    });
    expect(manifest.inputTokenCount).toBeGreaterThan(130);
  });

  it("reads a single .jsonl object when the input s3Uri names one, and gives a record without recordId an 11-character id", async () => {
    const key = `in/${randomUUID()}/only.jsonl`;
    const lines = Array.from({ length: 100 }, (_, k) => recordLine(`R${k}`, `text ${k}`));
    lines[5] = JSON.stringify({ modelInput: (JSON.parse(lines[5]!) as { modelInput: unknown }).modelInput });
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: lines.join("\n") }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${key.replace("only.jsonl", "")}other.jsonl`, Body: "not read\n" }));
    const jobArn = await create(jobInput(key, { inputDataConfig: { s3InputDataConfig: { s3Uri: `s3://${bucket}/${key}` } } }));
    const { job } = await waitFor(jobArn, ["Completed", "Failed"]);
    expect(job.status).toBe("Completed");
    const out = parseLines(await readText(`out/${jobIdOf(jobArn)}/only.jsonl.out`));
    expect(out).toHaveLength(100);
    const generated = out.filter((l) => !/^R\d+$/.test(l.recordId));
    expect(generated).toHaveLength(1);
    expect(generated[0]?.recordId).toMatch(/^[A-Z0-9]{11}$/);
  });

  it("answers a record with toolConfig, or one the model would refuse, with an error line instead of modelOutput", async () => {
    const { prefix } = await putInput([100], (id, text) =>
      id === "F0R00003"
        ? recordLine(id, text, { toolConfig: { tools: [{ toolSpec: { name: "labels", inputSchema: { json: {} } } }] } })
        : id === "F0R00004"
          ? recordLine(id, text, { inferenceConfig: { maxTokens: 9000 } })
          : recordLine(id, text),
    );
    const jobArn = await create(jobInput(prefix));
    const { job } = await waitFor(jobArn, ["Completed", "Failed"]);
    expect(job).toMatchObject({ status: "Completed", successRecordCount: 98, errorRecordCount: 2 });
    const out = parseLines(await readText(`out/${jobIdOf(jobArn)}/part-0.jsonl.out`));
    expect(out.find((l) => l.recordId === "F0R00003")?.error).toMatchObject({ errorCode: 400, errorMessage: expect.stringMatching(/toolConfig/) as unknown });
    expect(out.find((l) => l.recordId === "F0R00004")?.error).toMatchObject({ errorCode: 400, errorMessage: expect.stringMatching(/model limit of 2048/) as unknown });
  });
});

describe("model invocation jobs: clientRequestToken idempotency", () => {
  it("ignores the same token and parameters without an error, answers no jobArn (only that is documented), and creates no second job", async () => {
    const { prefix } = await putInput([100]);
    const input = jobInput(prefix);
    const before = stack.emulator.jobs.created();
    const first = await create(input);
    const second = await bedrock.send(new CreateModelInvocationJobCommand(input));
    expect(second.jobArn).toBeUndefined();
    expect(stack.emulator.jobs.created()).toBe(before + 1);
    expect(stack.emulator.jobs.list().filter((j) => j.clientRequestToken === input.clientRequestToken)).toHaveLength(1);
    // The job is found by its name instead.
    const listed = await bedrock.send(new ListModelInvocationJobsCommand({ nameContains: input.jobName }));
    expect(listed.invocationJobSummaries?.map((j) => j.jobArn)).toEqual([first]);
  });

  it("refuses the same token with other parameters (ConflictException) and creates nothing", async () => {
    const { prefix } = await putInput([100]);
    const input = jobInput(prefix);
    await create(input);
    const before = stack.emulator.jobs.created();
    const error = await createError({ ...input, jobName: `${input.jobName}-b` });
    expect(error).toMatchObject({ name: "ConflictException", status: 400 });
    expect(stack.emulator.jobs.created()).toBe(before);
  });
});

describe("model invocation jobs: request validation", () => {
  it.each([
    ["jobName", { jobName: "bad name!" }, /at 'jobName' failed to satisfy constraint/],
    ["roleArn", { roleArn: "arn:aws:iam::000000000000:user/someone" }, /at 'roleArn'/],
    ["timeoutDurationInHours below 24", { timeoutDurationInHours: 12 }, /at 'timeoutDurationInHours' failed to satisfy constraint: Member must have value between 24 and 168/],
    ["timeoutDurationInHours above 168", { timeoutDurationInHours: 169 }, /between 24 and 168/],
    ["input s3Uri", { inputDataConfig: { s3InputDataConfig: { s3Uri: "https://bucket/key" } } }, /at 'inputDataConfig.s3InputDataConfig.s3Uri'/],
    ["clientRequestToken", { clientRequestToken: "has spaces" }, /at 'clientRequestToken'/],
    ["an unknown model", { modelId: "meta.llama9-999b-v1:0" }, /model identifier is invalid/],
    ["a model without batch inference (Llama 3 70B)", { modelId: "meta.llama3-70b-instruct-v1:0" }, /doesn't support batch inference/],
    ["a base id served only through an inference profile", { modelId: "meta.llama3-3-70b-instruct-v1:0" }, /inference profile/],
    ["the InvokeModel invocation type (not emulated)", { modelInvocationType: "InvokeModel" as const }, /Converse/],
  ])("refuses %s with ValidationException 400 and creates no job", async (_what, overrides, message) => {
    const before = stack.emulator.jobs.created();
    const error = await createError(jobInput("in/none/", overrides));
    expect(error).toMatchObject({ name: "ValidationException", status: 400 });
    expect(error.message).toMatch(message);
    expect(stack.emulator.jobs.created()).toBe(before);
  });

  it("accepts timeoutDurationInHours 168 and reports the expiration time from it", async () => {
    const { prefix } = await putInput([100]);
    const jobArn = await create(jobInput(prefix, { timeoutDurationInHours: 168 }));
    const job = await get(jobArn);
    expect(job.timeoutDurationInHours).toBe(168);
    expect(job.jobExpirationTime!.getTime() - job.submitTime!.getTime()).toBe(168 * 3_600_000);
  });

  it("answers an unknown job with ResourceNotFoundException 404", async () => {
    await expect(get(`arn:aws:bedrock:us-east-1:000000000000:model-invocation-job/zzzzzzzzzzzz`)).rejects.toMatchObject({
      name: "ResourceNotFoundException",
      $metadata: { httpStatusCode: 404 },
    });
  });
});

describe("model invocation jobs: validation of the input data", () => {
  it("fails a job with fewer records than the minimum per job (100), writing no output", async () => {
    const { prefix } = await putInput([60, 39]);
    const jobArn = await create(jobInput(prefix));
    const { job, seen } = await waitFor(jobArn, ["Failed", "Completed"]);
    expect(job.status).toBe("Failed");
    expect(seen).toContain("Validating");
    expect(seen).not.toContain("InProgress");
    expect(job.message).toMatch(/99 records, below the minimum of 100/);
    expect(job.endTime).toBeInstanceOf(Date);
    expect(await keysUnder(`out/${jobIdOf(jobArn)}/`)).toEqual([]);
  });

  it("fails a job whose input has a line that is not JSON", async () => {
    const { prefix } = await putInput([100], (id, text) => (id === "F0R00050" ? '{"recordId": "x", "modelInput": {' : recordLine(id, text)));
    const jobArn = await create(jobInput(prefix));
    const { job } = await waitFor(jobArn, ["Failed", "Completed"]);
    expect(job).toMatchObject({ status: "Failed", message: expect.stringMatching(/Line 51 .* not valid JSON/) as unknown });
  });

  it("fails a job with a file above the records-per-file quota, and one with no .jsonl file", async () => {
    stack.emulator.jobs.setQuotas({ maxRecordsPerFile: 120 });
    const { prefix } = await putInput([121]);
    const tooMany = await create(jobInput(prefix));
    const empty = await create(jobInput(`in/${randomUUID()}/`));
    expect((await waitFor(tooMany, ["Failed", "Completed"])).job.message).toMatch(/121 records, above the quota of 120 records per input file/);
    expect((await waitFor(empty, ["Failed", "Completed"])).job.message).toMatch(/No \.jsonl input files/);
  });

  it("fails a job whose input files are above the job size quota", async () => {
    stack.emulator.jobs.setQuotas({ maxJobBytes: 10_000 });
    const { prefix } = await putInput([100]);
    const jobArn = await create(jobInput(prefix));
    expect((await waitFor(jobArn, ["Failed", "Completed"])).job.message).toMatch(/above the quota of 10000 bytes per batch inference job/);
  });
});

describe("model invocation jobs: quotas, stop and expiry", () => {
  it("refuses a job above the jobs submitted or in progress per model with ServiceQuotaExceededException; another model and a stopped job free a place", async () => {
    // Models no other test uses: the quota counts every job of the model on the stack, and another
    // test's job may still be running when this one starts.
    const model = "amazon.nova-lite-v1:0";
    const other = "amazon.nova-pro-v1:0";
    stack.emulator.jobs.setQuotas({ maxJobsPerModel: 2 });
    stack.emulator.jobs.setFaults({ neverStart: true });
    const { prefix } = await putInput([100]);
    const a = await create(jobInput(prefix, { modelId: model }));
    const b = await create(jobInput(prefix, { modelId: model }));
    const refused = await createError(jobInput(prefix, { modelId: model }));
    expect(refused).toMatchObject({ name: "ServiceQuotaExceededException", status: 400 });
    expect(refused.message).toMatch(/quota of 2 batch inference jobs/);
    const c = await create(jobInput(prefix, { modelId: other }));
    await bedrock.send(new StopModelInvocationJobCommand({ jobIdentifier: a }));
    await waitFor(a, ["Stopped"]);
    const d = await create(jobInput(prefix, { modelId: model }));
    expect(d).toMatch(/model-invocation-job/);
    for (const arn of [b, c, d]) await bedrock.send(new StopModelInvocationJobCommand({ jobIdentifier: arn }));
  });

  it("stops a job: Stopping, then Stopped, and refuses to stop it again (ConflictException)", async () => {
    stack.emulator.jobs.setTiming({ manual: true });
    const { prefix } = await putInput([100]);
    const jobArn = await create(jobInput(prefix));
    await bedrock.send(new StopModelInvocationJobCommand({ jobIdentifier: jobArn }));
    expect((await get(jobArn)).status).toBe("Stopping");
    // The step already waiting (to Validating) is dropped; the next one ends the stop.
    await stack.emulator.jobs.advance(jobArn);
    const { job, seen } = await waitFor(jobArn, ["Stopped"]);
    expect(seen).toEqual(["Submitted", "Stopping", "Stopped"]);
    expect(job.endTime).toBeInstanceOf(Date);
    await expect(bedrock.send(new StopModelInvocationJobCommand({ jobIdentifier: jobArn }))).rejects.toMatchObject({ name: "ConflictException" });
  });

  it("stops a job in progress and keeps the output of the records it answered", async () => {
    stack.emulator.jobs.setTiming({ manual: true, recordsPerStep: 10 });
    const { prefix } = await putInput([200]);
    const jobArn = await create(jobInput(prefix));
    await stepUntil(jobArn, "InProgress");
    await stack.emulator.jobs.advance(jobArn);
    expect((await get(jobArn)).processedRecordCount).toBe(20);
    await bedrock.send(new StopModelInvocationJobCommand({ jobIdentifier: jobArn }));
    await stack.emulator.jobs.advance(jobArn);
    const { job, seen } = await waitFor(jobArn, ["Stopped"]);
    expect(seen).toEqual(["Submitted", "Validating", "Scheduled", "InProgress", "Stopping", "Stopped"]);
    const out = parseLines(await readText(`out/${jobIdOf(jobArn)}/part-0.jsonl.out`));
    expect(job.processedRecordCount).toBe(20);
    expect(out).toHaveLength(20);
  });

  it("expires a job that was scheduled but did not begin before its timeout", async () => {
    stack.emulator.jobs.setTiming({ hourMs: 4 });
    stack.emulator.jobs.setFaults({ neverStart: true });
    const { prefix } = await putInput([100]);
    const jobArn = await create(jobInput(prefix));
    const { job, seen } = await waitFor(jobArn, ["Expired", "Completed"]);
    expect(job.status).toBe("Expired");
    expect(seen).toContain("Scheduled");
    expect(seen).not.toContain("InProgress");
    expect(job.endTime!.getTime()).toBeGreaterThanOrEqual(job.jobExpirationTime!.getTime());
  });
});

describe("model invocation jobs: injected faults", () => {
  it("ends PartiallyCompleted with per-record errors: output and manifest for the records processed only", async () => {
    stack.emulator.jobs.setFaults({ partialShare: 0.5, recordErrorRate: 0.25 });
    const { prefix } = await putInput([120]);
    const jobArn = await create(jobInput(prefix));
    const { job } = await waitFor(jobArn, ["PartiallyCompleted", "Completed", "Failed"]);
    expect(job.status).toBe("PartiallyCompleted");
    expect(job).toMatchObject({ totalRecordCount: 120, processedRecordCount: 60 });
    expect(job.errorRecordCount).toBeGreaterThan(0);
    expect(job.successRecordCount! + job.errorRecordCount!).toBe(60);
    const out = parseLines(await readText(`out/${jobIdOf(jobArn)}/part-0.jsonl.out`));
    expect(out).toHaveLength(60);
    const errors = out.filter((l) => l.error !== undefined);
    expect(errors).toHaveLength(job.errorRecordCount!);
    for (const e of errors) expect(e.modelOutput).toBeUndefined();
    const manifest = JSON.parse(await readText(`out/${jobIdOf(jobArn)}/manifest.json.out`)) as Record<string, number>;
    expect(manifest).toMatchObject({ totalRecordCount: 120, processedRecordCount: 60, errorRecordCount: job.errorRecordCount });
  });

  it("writes malformed (truncated) lines and leaves records out of the output when told to", async () => {
    stack.emulator.jobs.setFaults({ malformedLines: 2, missingRecords: 3 });
    const { prefix } = await putInput([100]);
    const jobArn = await create(jobInput(prefix));
    const { job } = await waitFor(jobArn, ["Completed", "Failed"]);
    expect(job.status).toBe("Completed");
    const lines = (await readText(`out/${jobIdOf(jobArn)}/part-0.jsonl.out`)).trim().split("\n");
    expect(lines).toHaveLength(97);
    const unparseable = lines.filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    });
    expect(unparseable).toHaveLength(2);
  });

  it("fails a job at validation, or half-way through processing with the output of the records done", async () => {
    stack.emulator.jobs.setFaults({ fail: "validation" });
    const { prefix } = await putInput([100]);
    const atValidation = await create(jobInput(prefix));
    stack.emulator.jobs.setFaults({ fail: "processing" });
    const midway = await create(jobInput(prefix));
    const v = await waitFor(atValidation, ["Failed", "Completed"]);
    expect(v.seen).not.toContain("InProgress");
    expect(v.job.status).toBe("Failed");
    const m = await waitFor(midway, ["Failed", "Completed"]);
    // Half the records were processed (and written) before the failure: it failed in progress, not at validation.
    expect(m.seen).toEqual(["Submitted", "Validating", "Scheduled", "InProgress", "Failed"]);
    expect(m.job).toMatchObject({ status: "Failed", processedRecordCount: 50 });
    expect(parseLines(await readText(`out/${jobIdOf(midway)}/part-0.jsonl.out`))).toHaveLength(50);
  });

  it("progresses slower with slowFactor: every step waits stepMs x slowFactor", async () => {
    stack.emulator.jobs.setTiming({ stepMs: 10 });
    stack.emulator.jobs.setFaults({ slowFactor: 8 });
    const { prefix } = await putInput([100]);
    const jobArn = await create(jobInput(prefix));
    await waitFor(jobArn, ["Completed"]);
    // Validating, Scheduled and InProgress each came after one step; the 100 records take that last step, so Completed ends it.
    const steps = stack.emulator.jobs.history(jobArn).slice(1);
    expect(steps.map((t) => [t.status, t.stepMs])).toEqual([
      ["Validating", 80],
      ["Scheduled", 80],
      ["InProgress", 80],
      ["Completed", undefined],
    ]);
  });
});

describe("model invocation jobs: ListModelInvocationJobs", () => {
  it("filters by nameContains, statusEquals and submit time, and pages with maxResults and nextToken", async () => {
    const tag = `lst${randomUUID().slice(0, 6)}`;
    stack.emulator.jobs.setFaults({ neverStart: true });
    const { prefix } = await putInput([100]);
    const arns: string[] = [];
    for (let k = 0; k < 3; k++) {
      arns.push(await create(jobInput(prefix, { jobName: `${tag}-${k}`, modelId: OTHER_MODEL })));
      await new Promise((r) => setTimeout(r, 5));
    }
    // A mark strictly before the failing job's submit time: the last job before it (5 ms earlier at least).
    const failingMark = (await get(arns[2]!)).submitTime!;
    stack.emulator.jobs.setFaults({ fail: "validation" });
    const failed = await create(jobInput(prefix, { jobName: `${tag}-failed`, modelId: OTHER_MODEL }));
    await waitFor(failed, ["Failed"]);

    const byName = await bedrock.send(new ListModelInvocationJobsCommand({ nameContains: tag }));
    expect(byName.invocationJobSummaries?.map((j) => j.jobArn)).toEqual([failed, ...[...arns].reverse()]);
    const ascending = await bedrock.send(new ListModelInvocationJobsCommand({ nameContains: tag, sortOrder: "Ascending" }));
    expect(ascending.invocationJobSummaries?.map((j) => j.jobArn)).toEqual([...arns, failed]);
    const failedOnly = await bedrock.send(new ListModelInvocationJobsCommand({ nameContains: tag, statusEquals: "Failed" }));
    expect(failedOnly.invocationJobSummaries?.map((j) => j.jobName)).toEqual([`${tag}-failed`]);
    const after = await bedrock.send(new ListModelInvocationJobsCommand({ nameContains: tag, submitTimeAfter: failingMark }));
    expect(after.invocationJobSummaries?.map((j) => j.jobArn)).toEqual([failed]);

    const page1 = await bedrock.send(new ListModelInvocationJobsCommand({ nameContains: tag, maxResults: 3 }));
    expect(page1.invocationJobSummaries).toHaveLength(3);
    expect(page1.nextToken).toBeDefined();
    const page2 = await bedrock.send(new ListModelInvocationJobsCommand({ nameContains: tag, maxResults: 3, nextToken: page1.nextToken }));
    expect(page2.invocationJobSummaries?.map((j) => j.jobArn)).toEqual([arns[0]]);
    expect(page2.nextToken).toBeUndefined();
    for (const arn of arns) await bedrock.send(new StopModelInvocationJobCommand({ jobIdentifier: arn }));
  });
});

describe("model invocation jobs: control routes", () => {
  it("takes job settings on PUT /_emulator/faults (refusing a typo) and lists jobs on GET /_emulator/jobs, over HTTP/1.1", async () => {
    const url = stack.env.AWS_ENDPOINT_URL_BEDROCK as string;
    const put = (body: unknown) => fetch(`${url}/_emulator/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await put({ jobs: { quotas: { minRecordsPerJobs: 5 } } })).status).toBe(400);
    expect((await put({ jobs: { quotas: { minRecordsPerJob: 5 } } })).status).toBe(200);
    const { prefix } = await putInput([5]);
    const jobArn = await create(jobInput(prefix));
    expect((await waitFor(jobArn, ["Completed", "Failed"])).job.status).toBe("Completed");
    const listed = (await (await fetch(`${url}/_emulator/jobs`)).json()) as { created: number; jobs: { jobArn: string }[] };
    expect(listed.created).toBe(stack.emulator.jobs.created());
    expect(listed.jobs.map((j) => j.jobArn)).toContain(jobArn);
  });
});

