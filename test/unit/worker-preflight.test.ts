import { QueueDoesNotExist } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { ConfigError, WorkerStartError } from "../../src/core/errors/errors.ts";
import { loadConfig, requireQueues } from "../../src/core/config/config.ts";
import { checkModelResidency, residencyRefusal, whyWorkerCannotStart, workerQueues } from "../../src/app/ops/preflight.ts";
import { loadModelCatalogue, ModelCatalogue, PACKAGED_CATALOGUE, readCatalogueFile } from "../../src/core/models/model-catalogue.ts";
import { caught } from "../support/fakes.ts";

const queues = workerQueues({ requests: "https://sqs.us-east-1.amazonaws.com/1/labelq-requests", results: "https://sqs/r", dlq: "https://sqs/d" });
const requests = queues[0]!;

function sdkError(name: string, message: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { name, ...extra });
}

describe("whyWorkerCannotStart", () => {
  it("names the cause and the queue with the variable that sets it, in one line", () => {
    const cases: [unknown, RegExp][] = [
      [sdkError("CredentialsProviderError", "Could not load credentials from any providers"), /^no AWS credentials found .* the requests queue \S+labelq-requests \(LABELQ_REQUESTS_QUEUE_URL\); .*AWS_ACCESS_KEY_ID=test/],
      [sdkError("InvalidClientTokenId", "The security token included in the request is invalid."), /^AWS refused the credentials .*: InvalidClientTokenId: The security token/],
      [new QueueDoesNotExist({ message: "The specified queue does not exist.", $metadata: {} }), /^the requests queue \S+ \(LABELQ_REQUESTS_QUEUE_URL\) does not exist/],
      [sdkError("AccessDenied", "User arn:aws:sts::1:assumed-role/x is not authorized to perform: sqs:getqueueattributes"), /^not allowed to read the requests queue .*sqs:GetQueueAttributes.*not authorized/],
      [sdkError("Error", "connect ECONNREFUSED 127.0.0.1:1\nmore"), /^cannot read the requests queue \S+ \(LABELQ_REQUESTS_QUEUE_URL\): connect ECONNREFUSED 127\.0\.0\.1:1$/],
    ];
    for (const [error, pattern] of cases) {
      const e = whyWorkerCannotStart(error, requests);
      expect(e.code).toBe("WORKER_CANNOT_START");
      expect(e.retryable).toBe(false);
      expect(e.message).not.toContain("\n");
      expect(e.message).toMatch(pattern);
      expect(e.cause).toBe(error);
    }
  });
});

describe("requireQueues", () => {
  it("names every missing queue variable at once", () => {
    const error = caught(() => requireQueues(loadConfig({ LABELQ_RESULTS_QUEUE_URL: "https://sqs/r" }), ["requests", "results", "dlq"]));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.split(":")[0])).toEqual(["LABELQ_REQUESTS_QUEUE_URL", "LABELQ_DLQ_URL"]);
  });
});

describe("the residency start-up check", () => {
  const IN_REGION = "llama3-70b, nova-micro, nova-lite, qwen3-32b, gpt-oss-120b";

  it("refuses LABELQ_RESIDENCY=region with the default model and fallback, in one line naming them and the models that can", () => {
    const config = loadConfig({ LABELQ_RESIDENCY: "region", AWS_REGION: "eu-west-1" });
    const error = caught(() => checkModelResidency(config));
    expect(error).toBeInstanceOf(WorkerStartError);
    const e = error as WorkerStartError;
    expect(e.code).toBe("WORKER_CANNOT_START");
    expect(e.retryable).toBe(false);
    expect(e.message).not.toContain("\n");
    expect(e.message).toBe(
      `LABELQ_RESIDENCY=region keeps prompts in eu-west-1, but the catalogue has no in-Region model id for the default model llama3.3-70b (LABELQ_DEFAULT_MODEL) and the fallback model claude-sonnet (LABELQ_FALLBACK_MODELS); models that can run in eu-west-1: ${IN_REGION} (choose from them, or another LABELQ_RESIDENCY)`,
    );
  });

  it("names only the models that cannot: a fallback alone", () => {
    const config = loadConfig({ LABELQ_RESIDENCY: "region", LABELQ_DEFAULT_MODEL: "nova-lite", LABELQ_FALLBACK_MODELS: "nova-micro,claude-haiku" });
    expect(() => checkModelResidency(config)).toThrow(/no in-Region model id for the fallback model claude-haiku \(LABELQ_FALLBACK_MODELS\); models that can run in us-east-1: llama3-70b, nova-micro, nova-lite, qwen3-32b, gpt-oss-120b /);
  });

  it("passes when every model named can run in the Region, and under geography or global whatever the models", () => {
    expect(() => checkModelResidency(loadConfig({ LABELQ_RESIDENCY: "region", LABELQ_DEFAULT_MODEL: "nova-lite", LABELQ_FALLBACK_MODELS: "none" }))).not.toThrow();
    expect(() => checkModelResidency(loadConfig({}))).not.toThrow();
    expect(() => checkModelResidency(loadConfig({ LABELQ_RESIDENCY: "global" }))).not.toThrow();
  });

  it("residencyRefusal judges against the catalogue it is given, and says so when none can", () => {
    const config = loadConfig({ LABELQ_RESIDENCY: "region", LABELQ_FALLBACK_MODELS: "none" });
    const regionCatalogue = loadModelCatalogue({ geography: "us", residency: "region" });
    expect(residencyRefusal(config, regionCatalogue)?.message).toMatch(/for the default model llama3\.3-70b \(LABELQ_DEFAULT_MODEL\); models that can run in us-east-1: llama3-70b, nova-micro, nova-lite, qwen3-32b, gpt-oss-120b /);
    // Under "geography" the same configuration has nothing to refuse.
    expect(residencyRefusal(loadConfig({ LABELQ_FALLBACK_MODELS: "none" }), regionCatalogue)).toBeUndefined();
    const profilesOnly = new ModelCatalogue(readCatalogueFile(PACKAGED_CATALOGUE).filter((m) => !m.modelIds.inRegion), "us", { residency: "region" });
    expect(residencyRefusal(config, profilesOnly)?.message).toMatch(/models that can run in us-east-1: none /);
  });
});
