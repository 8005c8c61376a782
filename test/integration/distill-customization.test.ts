import { BedrockClient, ListModelCustomizationJobsCommand } from "@aws-sdk/client-bedrock";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BedrockCustomizationControl, type CustomizationControl } from "../../src/adapters/bedrock/customization-control.ts";
import { customizationSubmission, readState, startCustomization, stateFileOf, type StartOptions } from "../../src/app/distill/customization-job.ts";
import { LOCAL_CREDENTIALS, type LocalStack, startLocalStack } from "../../src/app/local/local-stack.ts";
import { runCli } from "../support/run-cli.ts";

// `labelq distill start | status | cancel` against the embedded stack: the training file in S3
// (fauxqs) and the Bedrock emulator's model customization jobs (a test double), over the wire.
// The emulator answers a repeated clientRequestToken as the API reference documents it, without
// a jobArn ("no-arn"): after a crash labelq finds its job by name.

let stack: LocalStack;
let bedrock: BedrockClient;
let s3: S3Client;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-distill-job-"));
const ROLE = "arn:aws:iam::000000000000:role/labelq-customization";

const record = JSON.stringify({
  schemaVersion: "bedrock-conversation-2024",
  system: [{ text: "Label each text." }],
  messages: [
    { role: "user", content: [{ text: "1: works well" }] },
    { role: "assistant", content: [{ text: "1: sentiment=positive" }] },
  ],
});

beforeAll(async () => {
  // One step a minute: a job stays InProgress (then Stopping) for as long as the test looks at it.
  stack = await startLocalStack({ queuePrefix: `lq-distill-${randomUUID().slice(0, 6)}`, emulator: { seed: 3, jobs: { stepMs: 60_000, repeatTokenAnswer: "no-arn" } } });
  bedrock = new BedrockClient({ region: stack.region, endpoint: stack.endpoints.bedrockControl, credentials: LOCAL_CREDENTIALS });
  s3 = new S3Client({ region: stack.region, endpoint: stack.endpoints.s3, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
  await s3.send(new PutObjectCommand({ Bucket: stack.bulkBucket, Key: "distill/train.jsonl", Body: `${record}\n${record}\n` }));
});

afterAll(async () => {
  bedrock?.destroy();
  s3?.destroy();
  await stack?.close();
});

const env = () => ({ ...stack.env, AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey });

async function jobsNamed(name: string): Promise<string[]> {
  const listed = await bedrock.send(new ListModelCustomizationJobsCommand({ nameContains: name }));
  return (listed.modelCustomizationJobSummaries ?? []).map((j) => j.jobArn ?? "");
}

describe("labelq distill start | status | cancel", () => {
  it("starts one distillation job, adopts it by name after a crash lost its record, reports and stops it", async () => {
    const stateDir = path.join(tmp, "cli");
    const train = `s3://${stack.bulkBucket}/distill/train.jsonl`;
    const output = `s3://${stack.bulkBucket}/distill/output/`;
    const args = ["distill", "start", "--train", train, "--student", "nova-micro", "--teacher", "nova-premier", "--role", ROLE, "--output", output, "--epochs", "2", "--state-dir", stateDir, "--json"];
    const first = await runCli(args, env());
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const started = JSON.parse(first.stdout) as { jobName: string; jobArn: string; how: string; customizationType: string; stateFile: string };
    expect(started).toMatchObject({ how: "created", customizationType: "DISTILLATION" });
    expect(started.jobName).toMatch(/^labelq-distill-[0-9a-f]{12}$/);
    expect((await readState(started.stateFile))?.jobArn).toBe(started.jobArn);

    // A crash between Create and the state write: the record is gone, the job is not.
    fs.rmSync(started.stateFile);
    const again = await runCli(args, env());
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ how: "adopted", jobName: started.jobName, jobArn: started.jobArn });
    expect(await jobsNamed(started.jobName)).toEqual([started.jobArn]);
    expect((await readState(started.stateFile))?.jobArn).toBe(started.jobArn);

    // With the record in place, a third run reports it and calls nothing that could make a job.
    const third = await runCli(args, env());
    expect(JSON.parse(third.stdout)).toMatchObject({ how: "recorded", jobArn: started.jobArn });
    expect(await jobsNamed(started.jobName)).toEqual([started.jobArn]);

    const status = await runCli(["distill", "status", "--state-dir", stateDir], env());
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`${started.jobName}  InProgress`);

    const cancel = await runCli(["distill", "cancel", started.jobName, "--state-dir", stateDir, "--json"], env());
    expect(cancel.code).toBe(0);
    expect(JSON.parse(cancel.stdout)).toMatchObject({ jobName: started.jobName, status: "Stopping" });
  });

  it("refuses a pair Bedrock can't distil, naming the teachers it can, and a student of another Region, before any job is made", async () => {
    const stateDir = path.join(tmp, "refused");
    const base = ["distill", "start", "--train", `s3://${stack.bulkBucket}/distill/train.jsonl`, "--role", ROLE, "--output", `s3://${stack.bulkBucket}/out/`, "--state-dir", stateDir];
    const pair = await runCli([...base, "--student", "nova-micro", "--teacher", "llama3.1-70b"], env());
    expect(pair.code).toBe(1);
    expect(pair.stderr).toContain("INVALID_REQUEST");
    expect(pair.stderr).toContain("its teachers are nova-premier, nova-pro");
    const region = await runCli([...base, "--student", "llama3.1-8b"], env());
    expect(region.code).toBe(1);
    expect(region.stderr).toContain(`llama3.1-8b is customized in us-west-2 only, not ${stack.region}`);
    expect(fs.existsSync(stateDir)).toBe(false);
  });

  it("writes the state file before it calls Create, and fine-tunes when no teacher is named", async () => {
    const stateDir = path.join(tmp, "order");
    const options: StartOptions = {
      trainingUri: `s3://${stack.bulkBucket}/distill/train.jsonl`,
      outputUri: `s3://${stack.bulkBucket}/distill/ft-output/`,
      student: "nova-lite",
      roleArn: ROLE,
      region: stack.region,
      stateDir,
    };
    const real = new BedrockCustomizationControl(bedrock);
    const submission = customizationSubmission(options);
    let recordedAtCreate: unknown;
    const watching: CustomizationControl = {
      findByName: (n) => real.findByName(n),
      get: (id) => real.get(id),
      stop: (id) => real.stop(id),
      create: async (job) => {
        recordedAtCreate = await readState(stateFileOf(stateDir, job.jobName));
        return real.create(job);
      },
    };
    const result = await startCustomization(watching, options);
    expect(result).toMatchObject({ how: "created", customizationType: "FINE_TUNING", jobName: submission.jobName });
    expect(recordedAtCreate).toMatchObject({ jobName: submission.jobName, clientRequestToken: submission.clientRequestToken });
    expect(recordedAtCreate).not.toHaveProperty("jobArn");
  });

  it("adopts the job by name when Create answers a repeated token without a jobArn (the listing missed it before Create)", async () => {
    const stateDir = path.join(tmp, "no-arn");
    const options: StartOptions = {
      trainingUri: `s3://${stack.bulkBucket}/distill/train.jsonl`,
      outputUri: `s3://${stack.bulkBucket}/distill/no-arn-output/`,
      student: "nova-micro",
      teacher: "nova-pro",
      roleArn: ROLE,
      region: stack.region,
      stateDir,
    };
    const real = new BedrockCustomizationControl(bedrock);
    const first = await startCustomization(real, options);
    expect(first.how).toBe("created");
    fs.rmSync(first.stateFile);
    // The first lookup misses the job (as a listing that lags could): Create is sent again with
    // the same token, and the emulator answers as documented, without a jobArn.
    let lookups = 0;
    let created: { jobArn?: string } | undefined;
    const lagging: CustomizationControl = {
      findByName: (n) => (++lookups === 1 ? Promise.resolve(undefined) : real.findByName(n)),
      get: (id) => real.get(id),
      stop: (id) => real.stop(id),
      create: async (job) => (created = await real.create(job)),
    };
    const again = await startCustomization(lagging, options);
    expect(created).toEqual({});
    expect(again).toMatchObject({ how: "adopted", jobArn: first.jobArn });
    expect(await jobsNamed(first.jobName)).toEqual([first.jobArn]);
    expect((await readState(first.stateFile))?.jobArn).toBe(first.jobArn);
  });
});
