import { describe, expect, it } from "vitest";
import { createAwsClients } from "../../src/adapters/aws-clients.ts";
import { loadConfig } from "../../src/core/config/config.ts";
import { ConfigError } from "../../src/core/errors/errors.ts";
import { createLambdaHandler } from "../../src/lambda/lambda-handler.ts";
import { silentLogger } from "../support/fakes.ts";

// Lambda mode runs no bulk loop: a function configured for the bulk path is refused when it is
// built (its cold start), before it could take a batch into bulk that nothing would finish.

const QUEUES = {
  AWS_REGION: "us-east-1",
  LABELQ_REQUESTS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/labelq-requests",
  LABELQ_RESULTS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/labelq-results",
  LABELQ_DLQ_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/labelq-dlq",
};
const BULK = { LABELQ_BULK_BUCKET: "labelq-bulk", LABELQ_BULK_ROLE_ARN: "arn:aws:iam::123456789012:role/labelq-bedrock-batch" };

function build(env: Record<string, string>) {
  const config = loadConfig(env);
  return createLambdaHandler(config, createAwsClients(config), silentLogger());
}

describe("the Lambda handler and the bulk path", () => {
  it("refuses at cold start a function configured for the bulk path, naming the variables and where bulk runs", () => {
    let error: unknown;
    try {
      build({ ...QUEUES, ...BULK });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([expect.stringMatching(/^LABELQ_BULK_BUCKET and LABELQ_BULK_ROLE_ARN: the bulk path is not available in Lambda mode .*labelq worker/) as unknown]);
  });

  it("builds without the bulk path, or with its table off", async () => {
    for (const env of [QUEUES, { ...QUEUES, ...BULK, LABELQ_BULK_TABLE: "off" }]) {
      const handler = build(env);
      expect(typeof handler).toBe("function");
      await handler.close();
    }
  });
});
