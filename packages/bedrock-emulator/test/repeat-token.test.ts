import { afterEach, describe, expect, it } from "vitest";
import { startBedrockEmulator } from "../src/server.ts";
import type { BedrockEmulator } from "../src/types.ts";

// What a repeated clientRequestToken is answered with, changed while the emulator runs: in code
// (emulator.jobs.setRepeatTokenAnswer) and over HTTP (PUT /_emulator/faults {"jobs": ...}), over
// the wire with CreateModelInvocationJob. Source: docs/bedrock-fidelity.md, "Batch inference".

let emulator: BedrockEmulator | undefined;

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

const createBody = JSON.stringify({
  jobName: "labelq-20260101T000000Z-abc123",
  roleArn: "arn:aws:iam::000000000000:role/labelq-bedrock-batch",
  modelId: "us.meta.llama3-3-70b-instruct-v1:0",
  clientRequestToken: "token-1",
  modelInvocationType: "Converse",
  inputDataConfig: { s3InputDataConfig: { s3Uri: "s3://bucket/in/" } },
  outputDataConfig: { s3OutputDataConfig: { s3Uri: "s3://bucket/out/" } },
});

/** CreateModelInvocationJob over HTTP/1.1 (unsigned: taken as us-east-1's), with the same token every time. */
async function create(url: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/model-invocation-job`, { method: "POST", headers: { "content-type": "application/json" }, body: createBody });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function putJobs(url: string, jobs: unknown): Promise<number> {
  const res = await fetch(`${url}/_emulator/faults`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ jobs }) });
  await res.arrayBuffer();
  return res.status;
}

describe("jobs.repeatTokenAnswer at run time", () => {
  it("flips between no-arn and original-arn in code and over HTTP, for the job already made, and creates no second job", async () => {
    emulator = await startBedrockEmulator({ jobs: { manual: true } });
    const first = await create(emulator.url);
    expect(first.status).toBe(200);
    const jobArn = first.json.jobArn;
    expect(typeof jobArn).toBe("string");

    // The default: no jobArn (all the API reference documents).
    expect(await create(emulator.url)).toEqual({ status: 200, json: {} });

    expect(await putJobs(emulator.url, { repeatTokenAnswer: "original-arn" })).toBe(200);
    expect(await create(emulator.url)).toEqual({ status: 200, json: { jobArn } });

    emulator.jobs.setRepeatTokenAnswer("no-arn");
    expect(await create(emulator.url)).toEqual({ status: 200, json: {} });

    emulator.jobs.setRepeatTokenAnswer("original-arn");
    expect(await create(emulator.url)).toEqual({ status: 200, json: { jobArn } });
    expect(emulator.jobs.created()).toBe(1);
  });

  it("refuses an unknown answer over HTTP (400, nothing changed) and in code", async () => {
    emulator = await startBedrockEmulator({ jobs: { manual: true } });
    await create(emulator.url);
    expect(await putJobs(emulator.url, { repeatTokenAnswer: "first-arn" })).toBe(400);
    expect(await create(emulator.url)).toEqual({ status: 200, json: {} });
    expect(() => emulator!.jobs.setRepeatTokenAnswer("first-arn" as "no-arn")).toThrow();
    expect(await create(emulator.url)).toEqual({ status: 200, json: {} });
  });
});
