import { BedrockClient, DeleteCustomModelDeploymentCommand, ListCustomModelDeploymentsCommand, ListProvisionedModelThroughputsCommand } from "@aws-sdk/client-bedrock";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bedrockDistillControl } from "../../src/adapters/bedrock/customization-control.ts";
import { createAwsClients } from "../../src/adapters/aws-clients.ts";
import { startCustomization } from "../../src/app/distill/customization-job.ts";
import { deployStateFileOf, deployStudent, undeployStudent } from "../../src/app/distill/deploy-student.ts";
import { createEvalCore } from "../../src/app/eval/eval-core.ts";
import { loadGoldSet } from "../../src/app/eval/gold-set.ts";
import { labelGoldTexts } from "../../src/app/eval/label-gold-texts.ts";
import { LOCAL_CREDENTIALS, type LocalStack, startLocalStack } from "../../src/app/local/local-stack.ts";
import { modelCatalogueFor } from "../../src/app/worker/worker.ts";
import { loadConfig } from "../../src/core/config/config.ts";
import { PromptRegistry } from "../../src/core/prompts/prompt-registry.ts";
import { PROMPTS_DIR, REPO_ROOT, silentLogger } from "../support/fakes.ts";
import { runCli } from "../support/run-cli.ts";

// `labelq distill deploy | undeploy` against the embedded stack: students trained by the Bedrock
// emulator's customization jobs (a test double), served by its custom model deployments and
// Provisioned Throughput, over the wire. The emulator gives each custom model the error model set
// when its job was created (studentLabelErrors): the Nova student gets every sentiment_polarity
// wrong and nothing else, so labelling through the deployed student shows it is the student answering.

let stack: LocalStack;
const bedrock = new Map<string, BedrockClient>();
let s3: S3Client;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-distill-deploy-"));
const ROLE = "arn:aws:iam::000000000000:role/labelq-customization";
const record = JSON.stringify({
  schemaVersion: "bedrock-conversation-2024",
  messages: [
    { role: "user", content: [{ text: "1: works well" }] },
    { role: "assistant", content: [{ text: "1 pos" }] },
  ],
});

beforeAll(async () => {
  // The labelling core's clients read credentials from the standard chain, as the gate test's do.
  process.env.AWS_ACCESS_KEY_ID ??= LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= LOCAL_CREDENTIALS.secretAccessKey;
  stack = await startLocalStack({
    queuePrefix: `lq-deploy-${randomUUID().slice(0, 6)}`,
    emulator: { seed: 5, jobs: { stepMs: 25 }, studentLabelErrors: { flip: { sentiment_polarity: 1 } } },
  });
  s3 = new S3Client({ region: stack.region, endpoint: stack.endpoints.s3, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
  await s3.send(new PutObjectCommand({ Bucket: stack.bulkBucket, Key: "distill/train.jsonl", Body: `${record}\n${record}\n` }));
});

afterAll(async () => {
  for (const c of bedrock.values()) c.destroy();
  s3?.destroy();
  await stack?.close();
});

function control(region: string) {
  let client = bedrock.get(region);
  if (client === undefined) {
    client = new BedrockClient({ region, endpoint: stack.endpoints.bedrockControl, credentials: LOCAL_CREDENTIALS });
    bedrock.set(region, client);
  }
  return { client, control: bedrockDistillControl(client) };
}

const env = (region = stack.region) => ({ ...stack.env, AWS_REGION: region, AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey });

/** Starts a fine-tuning job for `student` and waits until it is Completed; answers its name. */
async function trainedStudent(student: string, region: string, stateDir: string): Promise<string> {
  const { control: c } = control(region);
  const started = await startCustomization(c, {
    trainingUri: `s3://${stack.bulkBucket}/distill/train.jsonl`,
    outputUri: `s3://${stack.bulkBucket}/distill/${student}-out/`,
    student,
    roleArn: ROLE,
    region,
    stateDir,
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const job = await c.get(started.jobArn);
    if (job.status === "Completed") return started.jobName;
    if (job.status === "Failed" || Date.now() > deadline) throw new Error(`job ${started.jobName} is ${job.status}: ${job.failureMessage ?? ""}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("labelq distill deploy | undeploy", () => {
  it("deploys a Nova student on demand once, waits until Active, writes a catalogue overlay the worker loads, and labels through the student", async () => {
    const stateDir = path.join(tmp, "nova");
    const catalogue = path.join(tmp, "nova", "students.json");
    const jobName = await trainedStudent("nova-micro", stack.region, stateDir);
    const args = ["distill", "deploy", "--job", jobName, "--state-dir", stateDir, "--catalogue-out", catalogue, "--poll-seconds", "0.02", "--json"];
    const first = await runCli(args, env());
    expect(first.code).toBe(0);
    const deployed = JSON.parse(first.stdout) as { arn: string; name: string; status: string; how: string; kind: string; student: string; catalogue: { alias: string } };
    expect(deployed).toMatchObject({ how: "created", kind: "on-demand", status: "Active", student: "nova-micro", name: `${jobName}-od`, catalogue: { alias: "nova-micro-student" } });
    expect(deployed.arn).toMatch(/:custom-model-deployment\/[a-z0-9]{12}$/);
    expect(first.stderr).toContain(`waiting for ${jobName}-od: Creating`);
    expect(first.stderr).toContain(`${jobName}-od: Active after`);

    // A crash after Create lost the record: the next run adopts the deployment by name, and buys nothing.
    fs.rmSync(deployStateFileOf(stateDir, jobName));
    const again = await runCli(args, env());
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ how: "adopted", arn: deployed.arn });
    const third = await runCli(args, env());
    expect(JSON.parse(third.stdout)).toMatchObject({ how: "recorded", arn: deployed.arn });
    const listed = await control(stack.region).client.send(new ListCustomModelDeploymentsCommand({ nameContains: jobName }));
    expect(listed.modelDeploymentSummaries?.map((d) => d.customModelDeploymentArn)).toEqual([deployed.arn]);

    // The overlay, as written: the base model's limits, the deployment ARN, where it is hosted.
    const written = JSON.parse(fs.readFileSync(catalogue, "utf8")) as { models: Record<string, unknown>[] };
    expect(written.models).toHaveLength(1);
    expect(written.models[0]).toMatchObject({ alias: "nova-micro-student", family: "nova", modelIds: { inRegion: deployed.arn }, outputFormat: "lines", contextTokens: 128000, hosting: { kind: "on-demand", arn: deployed.arn } });

    // Loaded through the worker's catalogue path, and labelled through: the student errs on sentiment_polarity only.
    const config = loadConfig({ ...env(), LABELQ_MODEL_CATALOGUE: catalogue, LABELQ_CACHE_TABLE: "off", LABELQ_BATCHES_TABLE: "off", LABELQ_FALLBACK_MODELS: "none", LOG_LEVEL: "silent" });
    const spec = modelCatalogueFor(config).find("nova-micro-student");
    expect(spec).toMatchObject({ modelId: deployed.arn, idKind: "inRegion", outputFormat: "lines", family: "nova" });
    const clients = createAwsClients(config);
    const core = createEvalCore(config, clients, silentLogger(), { cache: false });
    try {
      const taxonomy = (await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v2")).taxonomy;
      const texts = (await loadGoldSet(path.join(REPO_ROOT, "eval", "gold", "product-feedback.jsonl"), taxonomy)).slice(0, 20);
      const run = (model: string) => labelGoldTexts(texts, { taxonomy: "product-feedback", promptVersion: "v2", model, batchSize: 20, cache: false, runId: model }, core);
      const student = await run("nova-micro-student");
      const base = await run("nova-micro");
      expect(student.errors).toEqual([]);
      expect(base.errors).toEqual([]);
      for (const t of texts) {
        const s = student.labels.get(t.id)!;
        const b = base.labels.get(t.id)!;
        expect(s.sentiment_polarity).not.toEqual(b.sentiment_polarity);
        expect({ ...s, sentiment_polarity: null }).toEqual({ ...b, sentiment_polarity: null });
      }
    } finally {
      await core.close();
      clients.destroy();
    }

    const undeploy = await runCli(["distill", "undeploy", "--job", jobName, "--state-dir", stateDir, "--catalogue-out", catalogue], env());
    expect(undeploy.code).toBe(0);
    expect(undeploy.stdout).toContain(`deleted custom model deployment ${jobName}-od`);
    expect((await control(stack.region).client.send(new ListCustomModelDeploymentsCommand({ nameContains: jobName }))).modelDeploymentSummaries).toEqual([]);
    expect(fs.existsSync(catalogue)).toBe(false);
  });

  it("refuses a Llama student on demand, and Provisioned Throughput until --confirm-hourly-cost reaches the hourly cost it shows; then buys one", async () => {
    const stateDir = path.join(tmp, "llama");
    const west = "us-west-2";
    const jobName = await trainedStudent("llama3.1-8b", west, stateDir);
    const base = ["distill", "deploy", "--job", jobName, "--state-dir", stateDir, "--poll-seconds", "0.02"];
    const onDemand = await runCli(base, env(west));
    expect(onDemand.code).toBe(1);
    expect(onDemand.stderr).toContain("llama3.1-8b can't be deployed on demand");
    expect(onDemand.stderr).toContain("--provisioned --model-units 1 --unit-hourly-usd");

    const provisioned = [...base, "--provisioned", "--model-units", "1", "--unit-hourly-usd", "7.10"];
    const unconfirmed = await runCli(provisioned, env(west));
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toContain("1 model unit x $7.10 an hour = $7.10 an hour ($5183.00 a month of 730 hours)");
    expect(unconfirmed.stderr).toContain("pass --confirm-hourly-cost 7.10");
    const short = await runCli([...provisioned, "--confirm-hourly-cost", "7"], env(west));
    expect(short.code).toBe(1);
    expect(short.stderr).toContain("--confirm-hourly-cost 7 is less");
    const none = await control(west).client.send(new ListProvisionedModelThroughputsCommand({}));
    expect(none.provisionedModelSummaries).toEqual([]);

    const bought = await runCli([...provisioned, "--confirm-hourly-cost", "7.10"], env(west));
    expect(bought.code).toBe(0);
    expect(bought.stdout).toContain(`llama3.1-8b student of ${jobName}: Provisioned Throughput ($7.10 an hour while it exists) ${jobName}-pt is InService`);
    const listed = await control(west).client.send(new ListProvisionedModelThroughputsCommand({}));
    expect(listed.provisionedModelSummaries?.map((p) => [p.provisionedModelName, p.modelUnits, p.status])).toEqual([[`${jobName}-pt`, 1, "InService"]]);
    const undeploy = await runCli(["distill", "undeploy", "--job", jobName, "--state-dir", stateDir], env(west));
    expect(undeploy.stdout).toContain(`deleted Provisioned Throughput ${jobName}-pt`);
    expect((await control(west).client.send(new ListProvisionedModelThroughputsCommand({}))).provisionedModelSummaries).toEqual([]);
  });

  it("writes its record before Create, and after a crash adopts the deployment by name when Bedrock answers the recorded token without an ARN", async () => {
    const stateDir = path.join(tmp, "token");
    const jobName = await trainedStudent("nova-lite", stack.region, stateDir);
    const { control: real, client } = control(stack.region);
    const options = { job: jobName, stateDir, wait: true, pollMs: 20, timeoutMs: 20_000, progress: () => undefined };
    const first = await deployStudent(real, options);
    expect(first.how).toBe("created");
    // A crash between Create and recording its ARN leaves the record as it was written before Create.
    const stateFile = deployStateFileOf(stateDir, jobName);
    const { arn: _arn, ...beforeCreate } = JSON.parse(fs.readFileSync(stateFile, "utf8")) as { arn?: string; submission: { clientRequestToken: string } };
    fs.writeFileSync(stateFile, JSON.stringify(beforeCreate));

    // The listing misses the deployment once (as a lagging List could), so Create is called again with
    // the recorded clientRequestToken: the emulator answers it as documented, with no ARN.
    let hidden = false;
    let recordedAtCreate: unknown;
    const lagging: typeof real = {
      create: (j) => real.create(j),
      findByName: (n) => real.findByName(n),
      stop: (id) => real.stop(id),
      deleteHosting: (kind, id) => real.deleteHosting(kind, id),
      get: (id) => real.get(id),
      getHosting: (kind, id) => real.getHosting(kind, id),
      findHosting: async (kind, name) => {
        if (!hidden) {
          hidden = true;
          return undefined;
        }
        return real.findHosting(kind, name);
      },
      createHosting: async (h) => {
        recordedAtCreate = JSON.parse(fs.readFileSync(deployStateFileOf(stateDir, jobName), "utf8"));
        const answer = await real.createHosting(h);
        expect(answer.arn).toBeUndefined();
        return answer;
      },
    };
    const again = await deployStudent(lagging, options);
    expect(again).toMatchObject({ how: "adopted", arn: first.arn, status: "Active" });
    expect(recordedAtCreate).toMatchObject({ jobName, submission: { kind: "on-demand", name: `${jobName}-od`, clientRequestToken: beforeCreate.submission.clientRequestToken } });
    expect(recordedAtCreate).not.toHaveProperty("arn");
    const listed = await client.send(new ListCustomModelDeploymentsCommand({ nameContains: jobName }));
    expect(listed.modelDeploymentSummaries?.map((d) => d.customModelDeploymentArn)).toEqual([first.arn]);
  });

  it("deploys again after undeploy: a new clientRequestToken per deployment, so Bedrock makes a new one", async () => {
    const stateDir = path.join(tmp, "redeploy");
    const jobName = await trainedStudent("nova-micro", stack.region, stateDir);
    const { control: c, client } = control(stack.region);
    const options = { job: jobName, stateDir, wait: true, pollMs: 20, timeoutMs: 20_000, progress: () => undefined };
    const first = await deployStudent(c, options);
    const firstToken = (JSON.parse(fs.readFileSync(deployStateFileOf(stateDir, jobName), "utf8")) as { submission: { clientRequestToken: string } }).submission.clientRequestToken;
    expect(first.how).toBe("created");
    expect(await undeployStudent(c, { job: jobName, stateDir })).toMatchObject({ how: "deleted", arn: first.arn });
    expect(fs.existsSync(deployStateFileOf(stateDir, jobName))).toBe(false);

    const second = await deployStudent(c, options);
    expect(second).toMatchObject({ how: "created", status: "Active" });
    expect(second.arn).not.toBe(first.arn);
    const secondToken = (JSON.parse(fs.readFileSync(deployStateFileOf(stateDir, jobName), "utf8")) as { submission: { clientRequestToken: string } }).submission.clientRequestToken;
    expect(secondToken).not.toBe(firstToken);
    const listed = await client.send(new ListCustomModelDeploymentsCommand({ nameContains: jobName }));
    expect(listed.modelDeploymentSummaries?.map((d) => d.customModelDeploymentArn)).toEqual([second.arn]);
    await undeployStudent(c, { job: jobName, stateDir });
  });

  it("refuses another kind, or other model units or commitment, while a deployment is recorded, naming it and pointing to undeploy", async () => {
    const stateDir = path.join(tmp, "switch");
    const catalogue = path.join(stateDir, "students.json");
    const jobName = await trainedStudent("nova-lite", stack.region, stateDir);
    const { control: c, client } = control(stack.region);
    const stateFile = deployStateFileOf(stateDir, jobName);
    const options = { job: jobName, stateDir, wait: true, pollMs: 20, timeoutMs: 20_000, catalogueOut: catalogue, progress: () => undefined };
    const onDemand = await deployStudent(c, options);

    const provisioned = { modelUnits: 1, unitHourlyUsd: 20, confirmHourlyCostUsd: 20 };
    const switched = deployStudent(c, { ...options, provisioned });
    await expect(switched).rejects.toThrow(`${jobName} already has a custom model deployment (on demand): custom model deployment ${jobName}-od (${onDemand.arn}`);
    await expect(switched).rejects.toThrow(`remove it first with labelq distill undeploy --job ${jobName}`);
    // The on-demand deployment is still recorded, and no throughput was bought.
    expect(JSON.parse(fs.readFileSync(stateFile, "utf8"))).toMatchObject({ arn: onDemand.arn, submission: { kind: "on-demand" } });
    const throughputs = await client.send(new ListProvisionedModelThroughputsCommand({ nameContains: jobName }));
    expect(throughputs.provisionedModelSummaries).toEqual([]);

    // Once the recorded deployment is gone (here deleted outside labelq), another kind may be deployed.
    await client.send(new DeleteCustomModelDeploymentCommand({ customModelDeploymentIdentifier: onDemand.arn }));
    const bought = await deployStudent(c, { ...options, provisioned });
    expect(bought).toMatchObject({ how: "created", kind: "provisioned", status: "InService", hourlyUsd: 20 });
    const entryBefore = fs.readFileSync(catalogue, "utf8");
    const bigger = deployStudent(c, { ...options, provisioned: { modelUnits: 2, commitment: "OneMonth", unitHourlyUsd: 20, confirmHourlyCostUsd: 40 } });
    await expect(bigger).rejects.toThrow(`${jobName} already has Provisioned Throughput of 1 model unit with no commitment: Provisioned Throughput ${jobName}-pt (${bought.arn}`);
    await expect(bigger).rejects.toThrow("this run asks for Provisioned Throughput of 2 model units with a OneMonth commitment");
    // The catalogue entry still describes the throughput that exists.
    expect(fs.readFileSync(catalogue, "utf8")).toBe(entryBefore);
    expect(JSON.parse(entryBefore)).toMatchObject({ models: [{ hosting: { kind: "provisioned", arn: bought.arn, modelUnits: 1, hourlyUsd: 20, commitment: "none" } }] });
    expect(await deployStudent(c, { ...options, provisioned })).toMatchObject({ how: "recorded", arn: bought.arn });
    expect(await undeployStudent(c, { job: jobName, stateDir, catalogueOut: catalogue })).toMatchObject({ how: "deleted", kind: "provisioned" });
  });

  it("deploys anew when the recorded deployment was deleted outside labelq, and undeploys one already gone", async () => {
    const stateDir = path.join(tmp, "gone");
    const catalogue = path.join(stateDir, "students.json");
    const jobName = await trainedStudent("nova-micro", stack.region, stateDir);
    const { control: c, client } = control(stack.region);
    const progress: string[] = [];
    const options = { job: jobName, stateDir, wait: true, pollMs: 20, timeoutMs: 20_000, catalogueOut: catalogue, progress: (l: string) => progress.push(l) };
    const first = await deployStudent(c, options);
    await client.send(new DeleteCustomModelDeploymentCommand({ customModelDeploymentIdentifier: first.arn }));

    const second = await deployStudent(c, options);
    expect(second).toMatchObject({ how: "created", status: "Active" });
    expect(second.arn).not.toBe(first.arn);
    expect(progress).toContain(`the recorded custom model deployment ${first.arn} no longer exists: deploying again`);
    expect(JSON.parse(fs.readFileSync(deployStateFileOf(stateDir, jobName), "utf8"))).toMatchObject({ arn: second.arn });

    await client.send(new DeleteCustomModelDeploymentCommand({ customModelDeploymentIdentifier: second.arn }));
    const undeploy = await runCli(["distill", "undeploy", "--job", jobName, "--state-dir", stateDir, "--catalogue-out", catalogue], env());
    expect(undeploy.code).toBe(0);
    expect(undeploy.stdout).toContain(`custom model deployment ${jobName}-od (${second.arn}) was already deleted; removed its record; removed its entry from ${catalogue}`);
    expect(fs.existsSync(deployStateFileOf(stateDir, jobName))).toBe(false);
    expect(fs.existsSync(catalogue)).toBe(false);
  });

  it("with --no-wait returns the deployment while it is Creating; refuses a job that is not Completed, naming its status", async () => {
    const stateDir = path.join(tmp, "early");
    const { control: c } = control(stack.region);
    const pro = await trainedStudent("nova-pro", stack.region, stateDir);
    // A minute a step from here: deployments stay Creating and new jobs InProgress while the commands look.
    stack.emulator.jobs.setTiming({ stepMs: 60_000 });
    const catalogue = path.join(stateDir, "students.json");
    const noWait = await runCli(["distill", "deploy", "--job", pro, "--state-dir", stateDir, "--no-wait", "--catalogue-out", catalogue, "--json"], env());
    expect(noWait.code).toBe(0);
    expect(JSON.parse(noWait.stdout)).toMatchObject({ how: "created", status: "Creating", student: "nova-pro", catalogue: { alias: "nova-pro-student" } });
    expect(noWait.stderr).not.toContain("waiting for");
    // Nova Pro is not in the packaged catalogue: the entry copies nova-lite's limits and says so.
    const entry = (JSON.parse(fs.readFileSync(catalogue, "utf8")) as { models: { contextTokens: number; notes: string[] }[] }).models[0]!;
    expect(entry.contextTokens).toBe(300000);
    expect(entry.notes.join(" ")).toContain("limits copied from nova-lite");

    const started = await startCustomization(c, { trainingUri: `s3://${stack.bulkBucket}/distill/train.jsonl`, outputUri: `s3://${stack.bulkBucket}/distill/early/`, student: "nova-lite", roleArn: ROLE, region: stack.region, stateDir });
    const early = await runCli(["distill", "deploy", "--job", started.jobName, "--state-dir", stateDir], env());
    expect(early.code).toBe(1);
    expect(early.stderr).toContain(`customization job ${started.jobName} is InProgress`);
  });
});
