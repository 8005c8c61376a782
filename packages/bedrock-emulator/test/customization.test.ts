import {
  CreateModelCustomizationJobCommand,
  type CreateModelCustomizationJobCommandInput,
  GetModelCustomizationJobCommand,
  ListModelCustomizationJobsCommand,
  StopModelCustomizationJobCommand,
} from "@aws-sdk/client-bedrock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBedrockEmulator } from "../src/server.ts";
import type { BedrockEmulator } from "../src/types.ts";
import { controlClients, startTrainingBucket } from "./support/control-plane.ts";

// Model customization jobs (fine-tuning, distillation) over the wire with the real
// @aws-sdk/client-bedrock; the training data in S3 (fauxqs, path-style), read by the emulator as
// the job's service role would. Sources: docs/bedrock-fidelity.md, "Model customization jobs".

const BUCKET = "customization-data";
const ROLE = "arn:aws:iam::000000000000:role/labelq-customization";

let bucket: Awaited<ReturnType<typeof startTrainingBucket>>;
let emulator: BedrockEmulator;
const { bedrock, destroy: destroyClients } = controlClients(() => emulator.url);

const good = (answer: string) =>
  JSON.stringify({
    schemaVersion: "bedrock-conversation-2024",
    system: [{ text: "Label each text." }],
    messages: [
      { role: "user", content: [{ text: "1: great product" }] },
      { role: "assistant", content: [{ text: `1: ${answer}` }] },
    ],
  });

beforeAll(async () => {
  const wrongRole = JSON.stringify({ schemaVersion: "bedrock-conversation-2024", messages: [{ role: "assistant", content: [{ text: "x" }] }, { role: "user", content: [{ text: "y" }] }] });
  bucket = await startTrainingBucket(BUCKET, {
    "train.jsonl": `${good("positive")}\n${good("negative")}\n`,
    "validation.jsonl": `${good("positive")}\n`,
    "bad.jsonl": `${good("positive")}\n${wrongRole}\n`,
  });
  emulator = await startBedrockEmulator({ s3: bucket.s3, jobs: { stepMs: 30 } });
});

afterAll(async () => {
  destroyClients();
  await emulator?.close();
  await bucket?.close();
});

function input(name: string, overrides: Partial<CreateModelCustomizationJobCommandInput> = {}): CreateModelCustomizationJobCommandInput {
  return {
    jobName: name,
    customModelName: `${name}-model`,
    roleArn: ROLE,
    baseModelIdentifier: "amazon.nova-micro-v1:0:128k",
    customizationType: "FINE_TUNING",
    trainingDataConfig: { s3Uri: `s3://${BUCKET}/train.jsonl` },
    validationDataConfig: { validators: [{ s3Uri: `s3://${BUCKET}/validation.jsonl` }] },
    outputDataConfig: { s3Uri: `s3://${BUCKET}/output/` },
    hyperParameters: { epochCount: "2", learningRate: "0.00001", batchSize: "1" },
    ...overrides,
  };
}

/** Polls GetModelCustomizationJob until its status is one of `statuses`. */
async function until(jobIdentifier: string, statuses: string[], region = "us-east-1") {
  for (;;) {
    const job = await bedrock(region).send(new GetModelCustomizationJobCommand({ jobIdentifier }));
    if (statuses.includes(job.status ?? "")) return job;
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("model customization jobs", () => {
  it("fine-tunes Nova Micro in us-east-1: InProgress, then Completed with a custom model ARN, found by ARN and by name", async () => {
    const { jobArn } = await bedrock().send(new CreateModelCustomizationJobCommand(input("ft-nova", { clientRequestToken: "tok-ft-nova" })));
    expect(jobArn).toMatch(/^arn:aws:bedrock:us-east-1:000000000000:model-customization-job\/amazon\.nova-micro-v1:0:128k\/[a-z0-9]{12}$/);
    const first = await bedrock().send(new GetModelCustomizationJobCommand({ jobIdentifier: jobArn }));
    expect(first).toMatchObject({ status: "InProgress", jobName: "ft-nova", outputModelName: "ft-nova-model", customizationType: "FINE_TUNING", clientRequestToken: "tok-ft-nova" });
    expect(first.creationTime).toBeInstanceOf(Date);
    const done = await until("ft-nova", ["Completed", "Failed"]);
    expect(done.status).toBe("Completed");
    expect(done.outputModelArn).toMatch(/^arn:aws:bedrock:us-east-1:000000000000:custom-model\/amazon\.nova-micro-v1:0:128k\/[a-z0-9]{12}$/);
    expect(done.hyperParameters).toEqual({ epochCount: "2", learningRate: "0.00001", batchSize: "1" });
    expect(done.statusDetails?.trainingDetails?.status).toBe("Completed");
    expect(done.endTime).toBeInstanceOf(Date);
  });

  it("distils Nova Premier into Nova Lite; refuses a pair that isn't supported, naming the students", async () => {
    const distillation = { distillationConfig: { teacherModelConfig: { teacherModelIdentifier: "us.amazon.nova-premier-v1:0", maxResponseLengthForInference: 1000 } } };
    const { jobArn } = await bedrock().send(new CreateModelCustomizationJobCommand(input("distil-lite", { customizationType: "DISTILLATION", baseModelIdentifier: "amazon.nova-lite-v1:0:300k", customizationConfig: distillation })));
    const done = await until(jobArn ?? "", ["Completed", "Failed"]);
    expect(done).toMatchObject({ status: "Completed", customizationType: "DISTILLATION" });
    expect(done.customizationConfig).toEqual(distillation);

    const refused = bedrock().send(
      new CreateModelCustomizationJobCommand(input("distil-llama", { customizationType: "DISTILLATION", baseModelIdentifier: "meta.llama3-1-8b-instruct-v1:0:128k", customizationConfig: distillation })),
    );
    await expect(refused).rejects.toMatchObject({ name: "ValidationException", message: expect.stringContaining("amazon.nova-micro-v1:0:128k") as string });
    const noTeacher = bedrock().send(new CreateModelCustomizationJobCommand(input("distil-none", { customizationType: "DISTILLATION" })));
    await expect(noTeacher).rejects.toMatchObject({ name: "ValidationException", message: expect.stringContaining("teacherModelIdentifier") as string });
  });

  it("fine-tunes Llama 3.2 1B in us-west-2 only", async () => {
    const llama = { baseModelIdentifier: "meta.llama3-2-1b-instruct-v1:0:128k" };
    await expect(bedrock().send(new CreateModelCustomizationJobCommand(input("llama-east", llama)))).rejects.toMatchObject({
      name: "ValidationException",
      message: expect.stringContaining("us-west-2") as string,
    });
    const { jobArn } = await bedrock("us-west-2").send(new CreateModelCustomizationJobCommand(input("llama-west", llama)));
    expect(jobArn).toContain("arn:aws:bedrock:us-west-2:");
    await expect(bedrock().send(new CreateModelCustomizationJobCommand(input("claude", { baseModelIdentifier: "anthropic.claude-3-5-sonnet-20240620-v1:0" })))).rejects.toMatchObject({
      name: "ValidationException",
      message: expect.stringContaining("doesn't support fine-tuning") as string,
    });
  });

  it("fails a job whose training file holds a record that isn't bedrock-conversation-2024, naming the line", async () => {
    const { jobArn } = await bedrock().send(new CreateModelCustomizationJobCommand(input("bad-data", { trainingDataConfig: { s3Uri: `s3://${BUCKET}/bad.jsonl` } })));
    const failed = await until(jobArn ?? "", ["Completed", "Failed"]);
    expect(failed.status).toBe("Failed");
    expect(failed.failureMessage).toContain("line 2");
    expect(failed.failureMessage).toContain(`s3://${BUCKET}/bad.jsonl`);
    expect(failed.outputModelArn).toBeUndefined();
    const missing = await bedrock().send(new CreateModelCustomizationJobCommand(input("no-data", { trainingDataConfig: { s3Uri: `s3://${BUCKET}/absent.jsonl` } })));
    expect((await until(missing.jobArn ?? "", ["Completed", "Failed"])).failureMessage).toContain("could not read");
  });

  it("answers a repeated clientRequestToken without a jobArn and creates nothing; another request with it is a ConflictException; a name in use is refused", async () => {
    const created = emulator.jobs.created();
    const request = input("idem", { clientRequestToken: "tok-idem" });
    const first = await bedrock().send(new CreateModelCustomizationJobCommand(request));
    expect(first.jobArn).toBeDefined();
    const again = await bedrock().send(new CreateModelCustomizationJobCommand(request));
    expect(again.jobArn).toBeUndefined();
    // The same setting as the invocation jobs': "original-arn" answers the first job's ARN.
    emulator.jobs.setRepeatTokenAnswer("original-arn");
    try {
      expect((await bedrock().send(new CreateModelCustomizationJobCommand(request))).jobArn).toBe(first.jobArn);
    } finally {
      emulator.jobs.setRepeatTokenAnswer("no-arn");
    }
    await expect(bedrock().send(new CreateModelCustomizationJobCommand({ ...request, customModelName: "other" }))).rejects.toMatchObject({ name: "ConflictException" });
    await expect(bedrock().send(new CreateModelCustomizationJobCommand(input("idem")))).rejects.toMatchObject({ name: "ValidationException", message: expect.stringContaining("already exists") as string });
    const listed = await bedrock().send(new ListModelCustomizationJobsCommand({ nameContains: "idem" }));
    expect(listed.modelCustomizationJobSummaries?.map((s) => s.jobName)).toEqual(["idem"]);
    // The invocation jobs' counter is their own: customization jobs don't move it.
    expect(emulator.jobs.created()).toBe(created);
  });

  it("stops a job in progress: Stopping, then Stopped; a stopped job can't be stopped again", async () => {
    const { jobArn } = await bedrock().send(new CreateModelCustomizationJobCommand(input("to-stop")));
    await bedrock().send(new StopModelCustomizationJobCommand({ jobIdentifier: jobArn }));
    // Stopping lasts one step: a loaded machine may see Stopped already.
    expect(["Stopping", "Stopped"]).toContain((await bedrock().send(new GetModelCustomizationJobCommand({ jobIdentifier: jobArn }))).status);
    const stopped = await until(jobArn ?? "", ["Stopped", "Completed", "Failed"]);
    expect(stopped.status).toBe("Stopped");
    expect(stopped.outputModelArn).toBeUndefined();
    await expect(bedrock().send(new StopModelCustomizationJobCommand({ jobIdentifier: jobArn }))).rejects.toMatchObject({ name: "ValidationException" });
    await expect(bedrock().send(new GetModelCustomizationJobCommand({ jobIdentifier: "nope" }))).rejects.toMatchObject({ name: "ResourceNotFoundException" });
  });

  it("lists by nameContains and statusEquals, a page at a time", async () => {
    for (const n of ["page-a", "page-b", "page-c"]) await bedrock().send(new CreateModelCustomizationJobCommand(input(n)));
    const names: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await bedrock().send(new ListModelCustomizationJobsCommand({ nameContains: "page-", maxResults: 2, sortOrder: "Ascending", nextToken }));
      expect(page.modelCustomizationJobSummaries?.length).toBeLessThanOrEqual(2);
      names.push(...(page.modelCustomizationJobSummaries ?? []).map((s) => s.jobName ?? ""));
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    expect(names).toEqual(["page-a", "page-b", "page-c"]);
    await until("page-c", ["Completed"]);
    const completed = await bedrock().send(new ListModelCustomizationJobsCommand({ nameContains: "page-", statusEquals: "Completed" }));
    expect(completed.modelCustomizationJobSummaries?.every((s) => s.status === "Completed" && s.customModelArn !== undefined)).toBe(true);
    expect(completed.modelCustomizationJobSummaries?.length).toBeGreaterThan(0);
  });
});
