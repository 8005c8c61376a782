import {
  type BedrockClient,
  CreateModelInvocationJobCommand,
  ListModelInvocationJobsCommand,
  type ListModelInvocationJobsCommandInput,
  type ModelInvocationJobSummary,
} from "@aws-sdk/client-bedrock";
import { describe, expect, it } from "vitest";
import { BedrockJobControl, type JobSubmission } from "../../src/adapters/bedrock/job-control.ts";
import { ModelCallError } from "../../src/core/errors/errors.ts";

// BedrockJobControl's adoption by name on a scripted control plane: the paths a run over the wire
// cannot reach because the emulator lists a job as soon as it is made (a listing that lags behind
// Create, several pages, a refused listing). The over-the-wire runs: test/integration/bulk-recovery.test.ts.

const SUBMISSION: JobSubmission = {
  jobName: "labelq-20260101T000000Z-abc123",
  modelId: "us.meta.llama3-3-70b-instruct-v1:0",
  roleArn: "arn:aws:iam::000000000000:role/labelq-bedrock-batch",
  clientRequestToken: "token-1",
  inputUri: "s3://labelq-bulk/jobs/x/input/",
  outputUri: "s3://labelq-bulk/jobs/x/output/",
  timeoutHours: 24,
};
const ARN = "arn:aws:bedrock:us-east-1:000000000000:model-invocation-job/abcdefabcdef";

const summary = (jobName: string, jobArn: string, clientRequestToken = "token-1") => ({ jobName, jobArn, clientRequestToken }) as ModelInvocationJobSummary;

/** A control plane answering from scripts: each List call takes the next page set, each Create the next answer. */
function controlPlane(script: { lists: (ModelInvocationJobSummary[][] | Error)[]; creates?: (Record<string, unknown> | Error)[] }) {
  const sent: string[] = [];
  const listInputs: ListModelInvocationJobsCommandInput[] = [];
  let pages: ModelInvocationJobSummary[][] = [];
  const client = {
    send: (command: unknown) => {
      if (command instanceof ListModelInvocationJobsCommand) {
        const input = command.input;
        listInputs.push(input);
        if (input.nextToken === undefined) {
          const next = script.lists.shift();
          if (next === undefined) throw new Error("no List answer scripted");
          if (next instanceof Error) return Promise.reject(next);
          pages = next;
        }
        sent.push("List");
        const at = input.nextToken === undefined ? 0 : Number(input.nextToken);
        return Promise.resolve({ invocationJobSummaries: pages[at] ?? [], ...(at + 1 < pages.length ? { nextToken: String(at + 1) } : {}) });
      }
      if (command instanceof CreateModelInvocationJobCommand) {
        sent.push("Create");
        const next = script.creates?.shift();
        if (next === undefined) throw new Error("no Create answer scripted");
        return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
      }
      throw new Error("unexpected command");
    },
  } as unknown as BedrockClient;
  return { control: new BedrockJobControl(client), sent, listInputs };
}

function awsError(name: string, status: number, message = name): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

describe("BedrockJobControl.create: a job is known by its name", () => {
  it("adopts a job of the same name an earlier call made, without creating: the exact name, on any page", async () => {
    // nameContains is a substring filter: labelq-...-abc1234 is another job.
    const { control, sent, listInputs } = controlPlane({ lists: [[[summary(`${SUBMISSION.jobName}4`, `${ARN.slice(0, -1)}x`)], [summary(SUBMISSION.jobName, ARN)]]] });
    expect(await control.create(SUBMISSION)).toEqual({ jobArn: ARN, adopted: true });
    expect(sent).toEqual(["List", "List"]);
    expect(listInputs[0]).toMatchObject({ nameContains: SUBMISSION.jobName });
    expect(listInputs[1]?.nextToken).toBe("1");
  });

  it("creates the job when none has its name, and answers the ARN Create gave", async () => {
    const { control, sent } = controlPlane({ lists: [[[]]], creates: [{ jobArn: ARN }] });
    expect(await control.create(SUBMISSION)).toEqual({ jobArn: ARN });
    expect(sent).toEqual(["List", "Create"]);
  });

  it("finds by name a job whose repeated clientRequestToken Create answered without an ARN (the listing lagged before)", async () => {
    const { control, sent } = controlPlane({ lists: [[[]], [[summary(SUBMISSION.jobName, ARN)]]], creates: [{}] });
    expect(await control.create(SUBMISSION)).toEqual({ jobArn: ARN, adopted: true });
    expect(sent).toEqual(["List", "Create", "List"]);
  });

  it("tries again later, never as refused, when Create answers without an ARN and the job is not listed yet", async () => {
    const { control } = controlPlane({ lists: [[[]], [[]]], creates: [{}] });
    const error = await control.create(SUBMISSION).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelCallError);
    expect(error).toMatchObject({ code: "MODEL_UNAVAILABLE", retryable: true, message: expect.stringMatching(/no job named labelq-20260101T000000Z-abc123 is listed yet/) as unknown });
  });

  it("adopts, instead of ending the job, a job of its name found after Create refused", async () => {
    const { control, sent } = controlPlane({ lists: [[[]], [[summary(SUBMISSION.jobName, ARN)]]], creates: [awsError("ConflictException", 400)] });
    expect(await control.create(SUBMISSION)).toEqual({ jobArn: ARN, adopted: true });
    expect(sent).toEqual(["List", "Create", "List"]);
  });

  it("tries again later on a token conflict with no job listed, and refuses for good on a ValidationException", async () => {
    const conflict = controlPlane({ lists: [[[]], [[]]], creates: [awsError("ConflictException", 400)] });
    expect(await conflict.control.create(SUBMISSION).catch((e: unknown) => e)).toMatchObject({ code: "MODEL_UNAVAILABLE", retryable: true });
    const invalid = controlPlane({ lists: [[[]], [[]]], creates: [awsError("ValidationException", 400, "too few records")] });
    expect(await invalid.control.create(SUBMISSION).catch((e: unknown) => e)).toMatchObject({ code: "MODEL_REJECTED_REQUEST", retryable: false });
  });

  it("prefers the job made with its clientRequestToken when two have its name", async () => {
    const other = `${ARN.slice(0, -1)}x`;
    const { control } = controlPlane({ lists: [[[summary(SUBMISSION.jobName, other, "another-token"), summary(SUBMISSION.jobName, ARN)]]] });
    expect(await control.create(SUBMISSION)).toEqual({ jobArn: ARN, adopted: true });
  });

  it("names the missing permission when ListModelInvocationJobs is refused, and retries a throttled listing", async () => {
    const denied = controlPlane({ lists: [awsError("AccessDeniedException", 403)] });
    expect(await denied.control.create(SUBMISSION).catch((e: unknown) => e)).toMatchObject({
      code: "MODEL_REJECTED_REQUEST",
      message: expect.stringMatching(/needs bedrock:ListModelInvocationJobs/) as unknown,
    });
    const throttled = controlPlane({ lists: [awsError("ThrottlingException", 429)] });
    expect(await throttled.control.create(SUBMISSION).catch((e: unknown) => e)).toMatchObject({ code: "MODEL_THROTTLED", retryable: true });
    expect(throttled.sent).toEqual([]);
  });
});
