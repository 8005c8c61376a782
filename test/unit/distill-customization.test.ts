import { describe, expect, it } from "vitest";
import { createCustomizationInput } from "../../src/adapters/bedrock/customization-control.ts";
import { customizationSubmission, type StartOptions } from "../../src/app/distill/customization-job.ts";
import { customizationTarget } from "../../src/app/distill/customization-targets.ts";
import { InvalidRequestError } from "../../src/core/errors/errors.ts";

const options: StartOptions = {
  trainingUri: "s3://bucket/distill/train.jsonl",
  validationUri: "s3://bucket/distill/validation.jsonl",
  outputUri: "s3://bucket/distill/output/",
  student: "nova-micro",
  teacher: "nova-premier",
  roleArn: "arn:aws:iam::123456789012:role/labelq-customization",
  region: "us-east-1",
  stateDir: "out/distill",
};

describe("customizationTarget", () => {
  it("distils when the teacher teaches the student, fine-tunes without a teacher", () => {
    expect(customizationTarget("nova-lite", "nova-pro", "us-east-1")).toMatchObject({ customizationType: "DISTILLATION", baseModelId: "amazon.nova-lite-v1:0:300k", teacherModelId: "amazon.nova-pro-v1:0" });
    expect(customizationTarget("llama3.2-3b", undefined, "us-west-2")).toMatchObject({ customizationType: "FINE_TUNING", baseModelId: "meta.llama3-2-3b-instruct-v1:0:128k" });
    expect(customizationTarget("llama3.1-8b", "llama3.1-405b", "us-west-2").customizationType).toBe("DISTILLATION");
  });

  it("refuses a pair Bedrock can't distil, naming the student's teachers and the teacher's students", () => {
    expect(() => customizationTarget("nova-pro", "nova-pro", "us-east-1")).toThrow(/its teachers are nova-premier; nova-pro teaches nova-lite, nova-micro/);
    expect(() => customizationTarget("nova-micro", "llama3.1-70b", "us-east-1")).toThrow(InvalidRequestError);
    expect(() => customizationTarget("gpt", undefined, "us-east-1")).toThrow(/unknown student "gpt"; students: nova-micro/);
  });

  it("refuses a student outside its Region, naming the Region and the students of this one", () => {
    expect(() => customizationTarget("nova-micro", undefined, "us-west-2")).toThrow(/nova-micro is customized in us-east-1 only, not us-west-2.*llama3\.1-8b, llama3\.2-1b, llama3\.2-3b/);
  });
});

describe("customizationSubmission", () => {
  it("names the same job for the same inputs, another for any other input", () => {
    const a = customizationSubmission(options);
    expect(a.jobName).toMatch(/^labelq-distill-[0-9a-f]{12}$/);
    expect(customizationSubmission({ ...options })).toEqual(a);
    // The state directory is where the record is kept, not what the job is.
    expect(customizationSubmission({ ...options, stateDir: "elsewhere" }).jobName).toBe(a.jobName);
    for (const change of [{ epochs: 3 }, { trainingUri: "s3://bucket/other.jsonl" }, { teacher: "nova-pro" }, { roleArn: "arn:aws:iam::123456789012:role/other" }]) {
      const b = customizationSubmission({ ...options, ...change });
      expect(b.jobName).not.toBe(a.jobName);
      expect(b.clientRequestToken).not.toBe(a.clientRequestToken);
    }
  });

  it("builds CreateModelCustomizationJob's request: the teacher for distillation, the hyperparameters as strings", () => {
    const input = createCustomizationInput(customizationSubmission({ ...options, epochs: 2, learningRate: 0.00001, batchSize: 1 }));
    expect(input).toMatchObject({
      customizationType: "DISTILLATION",
      baseModelIdentifier: "amazon.nova-micro-v1:0:128k",
      trainingDataConfig: { s3Uri: options.trainingUri },
      validationDataConfig: { validators: [{ s3Uri: options.validationUri }] },
      outputDataConfig: { s3Uri: options.outputUri },
      hyperParameters: { epochCount: "2", learningRate: "0.00001", batchSize: "1" },
      customizationConfig: { distillationConfig: { teacherModelConfig: { teacherModelIdentifier: "us.amazon.nova-premier-v1:0" } } },
    });
    const ft = createCustomizationInput(customizationSubmission({ ...options, teacher: undefined, validationUri: undefined }));
    expect(ft.customizationType).toBe("FINE_TUNING");
    expect(ft).not.toHaveProperty("customizationConfig");
    expect(ft).not.toHaveProperty("validationDataConfig");
    expect(ft.hyperParameters).toEqual({});
  });

  it("refuses a location that is not an s3:// URI", () => {
    expect(() => customizationSubmission({ ...options, outputUri: "/tmp/out" })).toThrow(/--output must be an s3:\/\/ URI/);
  });
});
