import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { LAMBDA_VISIBILITY_FACTOR, LabelqStack, type LabelqStackProps } from "../../deploy/cdk/labelq-stack.ts";
import { WORKER_POLICY_FILE } from "../../deploy/cdk/worker-policy.ts";
import { fleetCapacity } from "../../src/app/ops/fleet-size.ts";

const ENV = { account: "123456789012", region: "us-east-1" };
const PROPS: LabelqStackProps = {
  env: ENV,
  compute: "lambda",
  quota: { rpm: 200, tpm: 600_000 },
  batch: { callsPerBatch: 1, tokensPerBatch: 12_000, secondsPerBatch: 40 },
  acceptableLatencyS: 600,
  lambda: { timeoutS: 240, batchSize: 2 },
};

const stack = new LabelqStack(new App(), "Test", PROPS);
const template = Template.fromStack(stack);

describe("LabelqStack (Lambda mode)", () => {
  it("runs the worker as a Lambda function instead of ECS", () => {
    template.resourceCountIs("AWS::ECS::Service", 0);
    template.resourceCountIs("AWS::ApplicationAutoScaling::ScalingPolicy", 0);
    template.hasResourceProperties("AWS::Lambda::Function", { PackageType: "Image", Timeout: 240 });
    const manifest = JSON.parse(readFileSync(`${(stack.node.root as App).assetOutdir}/Test.assets.json`, "utf8")) as { dockerImages: Record<string, { source: { dockerFile?: string } }> };
    expect(Object.values(manifest.dockerImages).map((i) => i.source.dockerFile)).toEqual(["deploy/cdk/lambda.Dockerfile"]);
  });

  it("sets the requests queue's visibility to at least 6x the function timeout", () => {
    template.hasResourceProperties("AWS::SQS::Queue", { QueueName: "labelq-requests", VisibilityTimeout: LAMBDA_VISIBILITY_FACTOR * 240 });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: Match.objectLike({ LABELQ_VISIBILITY_TIMEOUT_S: String(LAMBDA_VISIBILITY_FACTOR * 240) }) },
    });
  });

  it("reads the queue with ReportBatchItemFailures and a maximum concurrency from the quota", () => {
    const capacity = fleetCapacity({ ...PROPS.batch, quota: PROPS.quota, concurrency: 8 });
    // 50 batches/min at 40 s each keep 34 batches in flight: 17 invocations of 2 messages.
    expect(capacity.maxUsefulInFlight).toBe(34);
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      BatchSize: 2,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: 17 },
    });
  });

  it("gives the function role the documented worker policy, plus what Lambda itself needs", () => {
    // The documented policy without the bulk path, on the stack's own tables.
    const bulkSids = ["BulkJobs", "FindBulkJobsByName", "PassBatchRoleToBedrockOnly", "BulkBucketObjects", "BulkBucketList", "BulkTableQueries"];
    const doc = JSON.parse(readFileSync(WORKER_POLICY_FILE, "utf8").replaceAll("REGION", ENV.region).replaceAll("ACCOUNT_ID", ENV.account)) as { Statement: { Sid: string }[] };
    const tables = [{ "Fn::GetAtt": [Match.stringLikeRegexp("^LabelCacheTable"), "Arn"] }, { "Fn::GetAtt": [Match.stringLikeRegexp("^BatchesTable"), "Arn"] }];
    const statements = doc.Statement.filter((s) => !bulkSids.includes(s.Sid)).map((s) => (s.Sid === "CacheAndIdempotencyTables" ? { ...s, Resource: tables } : s));
    template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: "lambda.amazonaws.com" } })] },
      Policies: [{ PolicyName: "labelq-worker", PolicyDocument: { Version: "2012-10-17", Statement: statements } }],
      ManagedPolicyArns: Match.absent(),
    });
    // What AWSLambdaVPCAccessExecutionRole would grant, with the logs actions on the function's log group only.
    template.hasResourceProperties("AWS::IAM::Policy", {
      Roles: [{ Ref: Match.stringLikeRegexp("^FunctionRole") }],
      PolicyDocument: {
        Statement: [
          Match.objectLike({ Sid: "FunctionNetworkInterfaces", Action: Match.arrayWith(["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"]), Resource: "*" }),
          Match.objectLike({ Sid: "FunctionLogs", Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Resource: { "Fn::GetAtt": [Match.stringLikeRegexp("^WorkerLogs"), "Arn"] } }),
        ],
      },
    });
  });

  it("keeps maximum concurrency within SQS event source limits (2-1000)", () => {
    const tiny = Template.fromStack(new LabelqStack(new App(), "Tiny", { ...PROPS, quota: { rpm: 1, tpm: 0 }, lambda: { timeoutS: 60, batchSize: 1 } }));
    tiny.hasResourceProperties("AWS::Lambda::EventSourceMapping", { ScalingConfig: { MaximumConcurrency: 2 } });
  });
});
