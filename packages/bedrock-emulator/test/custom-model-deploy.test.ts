import {
  CreateCustomModelDeploymentCommand,
  CreateModelCustomizationJobCommand,
  CreateProvisionedModelThroughputCommand,
  DeleteCustomModelDeploymentCommand,
  DeleteProvisionedModelThroughputCommand,
  GetCustomModelDeploymentCommand,
  GetModelCustomizationJobCommand,
  GetProvisionedModelThroughputCommand,
  ListCustomModelDeploymentsCommand,
  ListProvisionedModelThroughputsCommand,
} from "@aws-sdk/client-bedrock";
import { BedrockRuntimeClient, ConverseCommand } from "@aws-sdk/client-bedrock-runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBedrockEmulator } from "../src/server.ts";
import type { BedrockEmulator } from "../src/types.ts";
import { controlClients, startTrainingBucket } from "./support/control-plane.ts";
import { emulatorClient } from "./support/emulator-client.ts";

// Custom model deployments (on-demand inference of custom Nova models) and Provisioned Throughput
// over the wire with the real @aws-sdk/client-bedrock and client-bedrock-runtime. Sources:
// docs/bedrock-fidelity.md, "Custom model deployments and Provisioned Throughput".

const CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };
const BUCKET = "deploy-data";
const ROLE = "arn:aws:iam::000000000000:role/labelq-customization";
const record = JSON.stringify({
  schemaVersion: "bedrock-conversation-2024",
  messages: [
    { role: "user", content: [{ text: "1: great" }] },
    { role: "assistant", content: [{ text: "1: positive" }] },
  ],
});

let bucket: Awaited<ReturnType<typeof startTrainingBucket>>;
let emulator: BedrockEmulator;
const { bedrock, destroy: destroyClients } = controlClients(() => emulator.url);
let runtime: BedrockRuntimeClient;

beforeAll(async () => {
  bucket = await startTrainingBucket(BUCKET, { "train.jsonl": `${record}\n${record}\n` });
  emulator = await startBedrockEmulator({ s3: bucket.s3, jobs: { stepMs: 20, provisionedModelUnits: 2 } });
  runtime = emulatorClient(emulator.url, 1);
});

afterAll(async () => {
  destroyClients();
  runtime?.destroy();
  await emulator?.close();
  await bucket?.close();
});

/** Trains a custom model (fine-tuning) and answers its ARN once the job is Completed. */
async function customModel(name: string, baseModelIdentifier: string, region: string): Promise<string> {
  const { jobArn } = await bedrock(region).send(
    new CreateModelCustomizationJobCommand({
      jobName: name,
      customModelName: `${name}-model`,
      roleArn: ROLE,
      baseModelIdentifier,
      customizationType: "FINE_TUNING",
      trainingDataConfig: { s3Uri: `s3://${BUCKET}/train.jsonl` },
      outputDataConfig: { s3Uri: `s3://${BUCKET}/out/` },
    }),
  );
  for (;;) {
    const job = await bedrock(region).send(new GetModelCustomizationJobCommand({ jobIdentifier: jobArn }));
    if (job.status === "Completed" && job.outputModelArn !== undefined) return job.outputModelArn;
    if (job.status === "Failed") throw new Error(`job ${name} failed: ${job.failureMessage}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Polls until `read` answers `status`; fails naming what it waited for after 10 s. */
async function untilStatus(what: string, read: () => Promise<string | undefined>, status: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const now = await read();
    if (now === status) return;
    if (Date.now() > deadline) throw new Error(`${what} still ${now}, not ${status}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const SYSTEM = [
  "You label short product-feedback texts.",
  "",
  "## Output format",
  'Answer with one JSON object {"r":[...]}, one object per text, "i" being the text\'s number.',
  "Use these keys:",
  '- sp (sentiment_polarity): one of "pos", "neg", "neu", "mix"',
  "- sc (sarcasm): 1 for yes, 0 for no",
].join("\n");
const TEXTS = Array.from({ length: 12 }, (_, k) => ({ i: k + 1, t: k % 2 ? `Broken after ${k} days, I want a refund.` : `I love this kettle number ${k}, excellent value.` }));
const USER = ["Label each text below.", ...TEXTS.map((t) => JSON.stringify(t)), "Answer with JSON only."].join("\n");

async function labels(modelId: string): Promise<{ i: number; sp: string; sc: number }[]> {
  const out = await runtime.send(new ConverseCommand({ modelId, system: [{ text: SYSTEM }], messages: [{ role: "user", content: [{ text: USER }] }] }));
  const text = out.output?.message?.content?.[0]?.text ?? "";
  return (JSON.parse(text) as { r: { i: number; sp: string; sc: number }[] }).r;
}

async function refusal(send: () => Promise<unknown>): Promise<{ name: string; message: string; status: number | undefined }> {
  try {
    await send();
  } catch (error) {
    const e = error as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  throw new Error("the call was not refused");
}

describe("custom model deployments (on-demand inference of a custom Nova model)", () => {
  it("deploys a custom Nova Micro: Creating (refused for inference), then Active, answering with the base model's rules and the job's per-dimension error rates", async () => {
    // The student errs on sentiment at every text and never on sarcasm; the base model keeps no error model.
    emulator.setStudentLabelErrors({ flip: { sentiment_polarity: 1 } });
    const modelArn = await customModel("nova-student", "amazon.nova-micro-v1:0:128k", "us-east-1");
    emulator.setStudentLabelErrors({});
    const { customModelDeploymentArn: arn } = await bedrock().send(new CreateCustomModelDeploymentCommand({ modelDeploymentName: "nova-student-dep", modelArn, clientRequestToken: "tok-dep-1" }));
    expect(arn).toMatch(/^arn:aws:bedrock:us-east-1:000000000000:custom-model-deployment\/[a-z0-9]{12}$/);
    const creating = await bedrock().send(new GetCustomModelDeploymentCommand({ customModelDeploymentIdentifier: arn }));
    expect(creating).toMatchObject({ status: "Creating", modelDeploymentName: "nova-student-dep", modelArn });
    const early = await refusal(() => labels(arn!));
    expect(early).toMatchObject({ name: "ValidationException", status: 400 });
    expect(early.message).toContain("is Creating");

    await untilStatus("deployment nova-student-dep", async () => (await bedrock().send(new GetCustomModelDeploymentCommand({ customModelDeploymentIdentifier: "nova-student-dep" }))).status, "Active");
    const base = await labels("amazon.nova-micro-v1:0");
    const student = await labels(arn!);
    expect(student.map((s) => s.sc)).toEqual(base.map((b) => b.sc));
    student.forEach((s, k) => expect(s.sp).not.toBe(base[k]!.sp));
    // The base model's rules: Nova Micro's 5,000-token output cap.
    const over = await refusal(() => runtime.send(new ConverseCommand({ modelId: arn, messages: [{ role: "user", content: [{ text: USER }] }], inferenceConfig: { maxTokens: 6000 } })));
    expect(over.message).toContain("exceeds the model limit of 5000");

    // A repeated clientRequestToken creates nothing (answered without an ARN, as documented); listed once.
    const again = await bedrock().send(new CreateCustomModelDeploymentCommand({ modelDeploymentName: "nova-student-dep", modelArn, clientRequestToken: "tok-dep-1" }));
    expect(again.customModelDeploymentArn).toBeUndefined();
    const listed = await bedrock().send(new ListCustomModelDeploymentsCommand({ nameContains: "nova-student" }));
    expect(listed.modelDeploymentSummaries?.map((d) => [d.customModelDeploymentArn, d.customModelDeploymentName, d.status])).toEqual([[arn, "nova-student-dep", "Active"]]);
    const sameName = await refusal(() => bedrock().send(new CreateCustomModelDeploymentCommand({ modelDeploymentName: "nova-student-dep", modelArn })));
    expect(sameName.name).toBe("ConflictException");

    await bedrock().send(new DeleteCustomModelDeploymentCommand({ customModelDeploymentIdentifier: arn }));
    const gone = await refusal(() => bedrock().send(new GetCustomModelDeploymentCommand({ customModelDeploymentIdentifier: arn })));
    expect(gone).toMatchObject({ name: "ResourceNotFoundException", status: 404 });
    expect((await refusal(() => labels(arn!))).message).toBe("The provided model identifier is invalid.");
  });

  it("refuses a non-Nova custom model, an unknown model ARN, a Region without on-demand deployment, and a bad name", async () => {
    const llama = await customModel("llama-student", "meta.llama3-1-8b-instruct-v1:0:128k", "us-west-2");
    const nonNova = await refusal(() => bedrock("us-west-2").send(new CreateCustomModelDeploymentCommand({ modelDeploymentName: "llama-dep", modelArn: llama })));
    expect(nonNova.name).toBe("ValidationException");
    expect(nonNova.message).toContain("Purchase Provisioned Throughput");
    const unknown = await refusal(() =>
      bedrock().send(new CreateCustomModelDeploymentCommand({ modelDeploymentName: "x-dep", modelArn: "arn:aws:bedrock:us-east-1:000000000000:custom-model/amazon.nova-micro-v1:0:128k/000000000000" })),
    );
    expect(unknown.name).toBe("ResourceNotFoundException");
    const region = await refusal(() => bedrock("eu-west-1").send(new CreateCustomModelDeploymentCommand({ modelDeploymentName: "eu-dep", modelArn: llama })));
    expect(region.message).toContain("isn't supported in eu-west-1");
    const name = await refusal(() => bedrock().send(new CreateCustomModelDeploymentCommand({ modelDeploymentName: "bad name!", modelArn: llama })));
    expect(name.message).toMatch(/^1 validation error detected: Value 'bad name!' at 'modelDeploymentName'/);
  });
});

describe("settings over HTTP", () => {
  it("takes studentLabelErrors and jobs.provisionedModelUnits in PUT /_emulator/faults, and refuses a bad rate", async () => {
    const put = (body: unknown) => fetch(`${emulator.url}/_emulator/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const ok = await put({ studentLabelErrors: { flip: { sarcasm: 0.5 } }, jobs: { provisionedModelUnits: 2 } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ applied: { studentLabelErrors: { flip: { sarcasm: 0.5 } }, jobs: { provisionedModelUnits: 2 } } });
    const bad = await put({ studentLabelErrors: { flip: 2 } });
    expect(bad.status).toBe(400);
    await put({ studentLabelErrors: {} });
  });
});

describe("Provisioned Throughput for a custom model", () => {
  it("provisions a custom Llama 3.1 8B within the model unit quotas: Creating, then InService, answering as the custom model; committed throughput can't be deleted early", async () => {
    emulator.setStudentLabelErrors({ flip: { sarcasm: 1 } });
    const modelArn = await customModel("llama-pt-student", "meta.llama3-1-8b-instruct-v1:0:128k", "us-west-2");
    emulator.setStudentLabelErrors({});
    const west = bedrock("us-west-2");
    // No commitment: one model unit per throughput; committed: the units granted (2 here).
    const tooMany = await refusal(() => west.send(new CreateProvisionedModelThroughputCommand({ provisionedModelName: "pt-big", modelId: modelArn, modelUnits: 2 })));
    expect(tooMany).toMatchObject({ name: "ServiceQuotaExceededException", status: 400 });
    const overGrant = await refusal(() => west.send(new CreateProvisionedModelThroughputCommand({ provisionedModelName: "pt-big", modelId: modelArn, modelUnits: 3, commitmentDuration: "SixMonths" })));
    expect(overGrant.name).toBe("ServiceQuotaExceededException");

    const { provisionedModelArn: arn } = await west.send(new CreateProvisionedModelThroughputCommand({ provisionedModelName: "pt-student", modelId: modelArn, modelUnits: 1, clientRequestToken: "tok-pt-1" }));
    expect(arn).toMatch(/^arn:aws:bedrock:us-west-2:000000000000:provisioned-model\/[a-z0-9]{12}$/);
    const creating = await west.send(new GetProvisionedModelThroughputCommand({ provisionedModelId: arn }));
    expect(creating).toMatchObject({ status: "Creating", modelUnits: 1, modelArn });
    expect(creating.foundationModelArn).toContain("meta.llama3-1-8b");
    await untilStatus("pt-student", async () => (await west.send(new GetProvisionedModelThroughputCommand({ provisionedModelId: "pt-student" }))).status, "InService");

    // Answered in us-west-2 only, with Llama's rules (2,048 output tokens) and the job's error model.
    const westRuntime = new BedrockRuntimeClient({ region: "us-west-2", endpoint: emulator.url, credentials: CREDENTIALS, maxAttempts: 1 });
    try {
      const out = await westRuntime.send(new ConverseCommand({ modelId: arn, system: [{ text: SYSTEM }], messages: [{ role: "user", content: [{ text: USER }] }] }));
      const answered = (JSON.parse(out.output?.message?.content?.[0]?.text ?? "") as { r: { sc: number }[] }).r;
      const baseline = await labels("us.amazon.nova-micro-v1:0");
      answered.forEach((a, k) => expect(a.sc).toBe(1 - baseline[k]!.sc));
      const cap = await refusal(() => westRuntime.send(new ConverseCommand({ modelId: arn, messages: [{ role: "user", content: [{ text: "hi" }] }], inferenceConfig: { maxTokens: 4096 } })));
      expect(cap.message).toContain("exceeds the model limit of 2048");
    } finally {
      westRuntime.destroy();
    }

    const committed = await west.send(new CreateProvisionedModelThroughputCommand({ provisionedModelName: "pt-committed", modelId: modelArn, modelUnits: 1, commitmentDuration: "OneMonth" }));
    const early = await refusal(() => west.send(new DeleteProvisionedModelThroughputCommand({ provisionedModelId: committed.provisionedModelArn })));
    expect(early.message).toContain("can't be deleted before its term ends");
    await west.send(new CreateProvisionedModelThroughputCommand({ provisionedModelName: "pt-second", modelId: modelArn, modelUnits: 1 }));
    const third = await refusal(() => west.send(new CreateProvisionedModelThroughputCommand({ provisionedModelName: "pt-third", modelId: modelArn, modelUnits: 1 })));
    expect(third.message).toContain("already has 2 Provisioned Throughputs with no commitment");
    const listed = await west.send(new ListProvisionedModelThroughputsCommand({ nameContains: "pt-" }));
    expect(listed.provisionedModelSummaries?.map((p) => p.provisionedModelName).sort()).toEqual(["pt-committed", "pt-second", "pt-student"]);
    await west.send(new DeleteProvisionedModelThroughputCommand({ provisionedModelId: arn }));
    expect((await refusal(() => west.send(new GetProvisionedModelThroughputCommand({ provisionedModelId: arn })))).name).toBe("ResourceNotFoundException");
  });
});

describe("the Region of a request", () => {
  it("scopes deployment and Provisioned Throughput names, tokens, Get, List and Delete by the Region the request is signed for", async () => {
    const east = bedrock("us-east-1");
    const west = bedrock("us-west-2");
    // Nova fine-tunes in us-east-1 only; Llama 3.1 8B in us-west-2.
    const eastModel = await customModel("regional-east", "amazon.nova-micro-v1:0:128k", "us-east-1");
    const westModel = await customModel("regional-west", "meta.llama3-1-8b-instruct-v1:0:128k", "us-west-2");
    const { customModelDeploymentArn: eastArn } = await east.send(new CreateCustomModelDeploymentCommand({ modelDeploymentName: "regional-dep", modelArn: eastModel }));
    expect(eastArn).toMatch(/^arn:aws:bedrock:us-east-1:/);

    // Not seen from us-west-2: not listed, not found by ARN or name, not deleted.
    expect((await west.send(new ListCustomModelDeploymentsCommand({ nameContains: "regional-dep" }))).modelDeploymentSummaries).toEqual([]);
    expect(await refusal(() => west.send(new GetCustomModelDeploymentCommand({ customModelDeploymentIdentifier: eastArn })))).toMatchObject({ name: "ResourceNotFoundException", status: 404 });
    expect((await refusal(() => west.send(new DeleteCustomModelDeploymentCommand({ customModelDeploymentIdentifier: "regional-dep" })))).name).toBe("ResourceNotFoundException");
    expect((await refusal(() => west.send(new DeleteCustomModelDeploymentCommand({ customModelDeploymentIdentifier: eastArn })))).name).toBe("ResourceNotFoundException");
    expect((await east.send(new GetCustomModelDeploymentCommand({ customModelDeploymentIdentifier: eastArn }))).modelDeploymentName).toBe("regional-dep");

    // Provisioned Throughput likewise; the same name and clientRequestToken in another Region buy one of its own there.
    const { provisionedModelArn: westPt } = await west.send(new CreateProvisionedModelThroughputCommand({ provisionedModelName: "regional-pt", modelId: westModel, modelUnits: 1, clientRequestToken: "tok-regional" }));
    expect((await east.send(new ListProvisionedModelThroughputsCommand({ nameContains: "regional-pt" }))).provisionedModelSummaries).toEqual([]);
    expect((await refusal(() => east.send(new GetProvisionedModelThroughputCommand({ provisionedModelId: westPt })))).name).toBe("ResourceNotFoundException");
    expect((await refusal(() => east.send(new DeleteProvisionedModelThroughputCommand({ provisionedModelId: "regional-pt" })))).name).toBe("ResourceNotFoundException");
    const { provisionedModelArn: eastPt } = await east.send(new CreateProvisionedModelThroughputCommand({ provisionedModelName: "regional-pt", modelId: eastModel, modelUnits: 1, clientRequestToken: "tok-regional" }));
    expect(eastPt).toMatch(/^arn:aws:bedrock:us-east-1:/);
    expect((await east.send(new ListProvisionedModelThroughputsCommand({ nameContains: "regional-pt" }))).provisionedModelSummaries?.map((p) => p.provisionedModelArn)).toEqual([eastPt]);
    expect((await west.send(new ListProvisionedModelThroughputsCommand({ nameContains: "regional-pt" }))).provisionedModelSummaries?.map((p) => p.provisionedModelArn)).toEqual([westPt]);

    await east.send(new DeleteProvisionedModelThroughputCommand({ provisionedModelId: "regional-pt" }));
    expect((await west.send(new GetProvisionedModelThroughputCommand({ provisionedModelId: "regional-pt" }))).provisionedModelArn).toBe(westPt);
    await west.send(new DeleteProvisionedModelThroughputCommand({ provisionedModelId: westPt }));
    await east.send(new DeleteCustomModelDeploymentCommand({ customModelDeploymentIdentifier: eastArn }));
  });
});
