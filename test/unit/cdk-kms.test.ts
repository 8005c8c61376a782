import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { stackPropsFromContext } from "../../deploy/cdk/context.ts";
import { LabelqStack, type LabelqStackProps } from "../../deploy/cdk/labelq-stack.ts";

const ENV = { account: "123456789012", region: "us-east-1" };
const BASE: LabelqStackProps = {
  env: ENV,
  quota: { rpm: 200, tpm: 600_000 },
  batch: { callsPerBatch: 1, tokensPerBatch: 12_000, secondsPerBatch: 40 },
  acceptableLatencyS: 600,
};
const KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" as const;

const synth = (props: Partial<LabelqStackProps> = {}) => Template.fromStack(new LabelqStack(new App(), "Kms", { ...BASE, ...props }));

/** The logical id of the one resource of a type. */
function only(template: Template, type: string): string {
  const ids = Object.keys(template.findResources(type));
  expect(ids).toHaveLength(1);
  return ids[0]!;
}

interface Statement {
  Sid?: string;
  Action: string | string[];
  Resource: unknown;
  Principal?: { Service?: string };
  Condition?: unknown;
}
const policyStatements = (template: Template, service: string): Statement[] => {
  const roles = template.findResources("AWS::IAM::Role", { Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: service } })] } } });
  const role = Object.values(roles).find((r) => (r as { Properties: { Policies?: unknown } }).Properties.Policies) as { Properties: { Policies: { PolicyDocument: { Statement: Statement[] } }[] } };
  return role.Properties.Policies[0]!.PolicyDocument.Statement;
};
const kmsStatements = (statements: Statement[]) => statements.filter((s) => [s.Action].flat().some((a) => a.startsWith("kms:")));

describe("kms=create: one customer-managed key for labelq's data", () => {
  const template = synth({ kms: "create", bulk: {} });
  const keyId = only(template, "AWS::KMS::Key");
  const keyArn = { "Fn::GetAtt": [keyId, "Arn"] };

  it("rotates yearly and is kept when the stack is deleted", () => {
    template.hasResource("AWS::KMS::Key", { Properties: Match.objectLike({ EnableKeyRotation: true }), DeletionPolicy: "Retain" });
  });

  it("encrypts the three queues, both tables and the bulk table, the bulk bucket, both log groups, the alarm topic and the Redis secret with it", () => {
    const queues = template.findResources("AWS::SQS::Queue");
    expect(Object.values(queues).map((q) => (q as { Properties: { KmsMasterKeyId: unknown } }).Properties.KmsMasterKeyId)).toEqual([keyArn, keyArn, keyArn]);
    const tables = template.findResources("AWS::DynamoDB::Table");
    expect(Object.keys(tables)).toHaveLength(3);
    for (const t of Object.values(tables)) expect((t as { Properties: { SSESpecification: unknown } }).Properties.SSESpecification).toEqual({ SSEEnabled: true, SSEType: "KMS", KMSMasterKeyId: keyArn });
    template.hasResourceProperties("AWS::S3::Bucket", {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: keyArn } }] },
    });
    template.resourcePropertiesCountIs("AWS::Logs::LogGroup", { KmsKeyId: keyArn }, 2);
    template.resourceCountIs("AWS::Logs::LogGroup", 2);
    template.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: keyArn });
    template.hasResourceProperties("AWS::SecretsManager::Secret", { KmsKeyId: keyArn });
  });

  it("lets CloudWatch Logs use it for this account's log groups in the Region, and CloudWatch alarms publish to the encrypted topic", () => {
    const policy = (template.findResources("AWS::KMS::Key")[keyId] as { Properties: { KeyPolicy: { Statement: Statement[] } } }).Properties.KeyPolicy.Statement;
    const logs = policy.find((s) => s.Principal?.Service === `logs.${ENV.region}.amazonaws.com`);
    expect(logs?.Condition).toEqual({ ArnLike: { "kms:EncryptionContext:aws:logs:arn": `arn:aws:logs:${ENV.region}:${ENV.account}:log-group:*` } });
    const alarms = policy.find((s) => s.Principal?.Service === "cloudwatch.amazonaws.com");
    expect(alarms?.Action).toEqual(["kms:Decrypt", "kms:GenerateDataKey*"]);
    expect(alarms?.Condition).toEqual({ StringEquals: { "aws:SourceAccount": ENV.account }, ArnLike: { "aws:SourceArn": `arn:aws:cloudwatch:${ENV.region}:${ENV.account}:alarm:*` } });
  });

  it("gives the worker's role and the bulk service role Decrypt and GenerateDataKey on that key only", () => {
    for (const service of ["ecs-tasks.amazonaws.com", "bedrock.amazonaws.com"]) {
      expect(kmsStatements(policyStatements(template, service))).toEqual([
        expect.objectContaining({ Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: keyArn }) as unknown,
      ]);
    }
  });

  it("encrypts FIFO queues and the Lambda function's environment with it too", () => {
    const fifo = synth({ kms: "create", fifo: true });
    const fifoKey = { "Fn::GetAtt": [only(fifo, "AWS::KMS::Key"), "Arn"] };
    for (const name of ["labelq-requests.fifo", "labelq-results.fifo", "labelq-dlq.fifo"]) fifo.hasResourceProperties("AWS::SQS::Queue", { QueueName: name, KmsMasterKeyId: fifoKey });
    const fn = synth({ kms: "create", compute: "lambda" });
    fn.hasResourceProperties("AWS::Lambda::Function", { KmsKeyArn: { "Fn::GetAtt": [only(fn, "AWS::KMS::Key"), "Arn"] } });
  });
});

describe("kms=<key ARN>: an existing key", () => {
  it("is used everywhere a created one would be, and the stack creates none", () => {
    const template = synth({ kms: KEY_ARN, bulk: {} });
    template.resourceCountIs("AWS::KMS::Key", 0);
    template.resourcePropertiesCountIs("AWS::SQS::Queue", { KmsMasterKeyId: KEY_ARN }, 3);
    template.resourcePropertiesCountIs("AWS::DynamoDB::Table", { SSESpecification: { SSEEnabled: true, SSEType: "KMS", KMSMasterKeyId: KEY_ARN } }, 3);
    template.resourcePropertiesCountIs("AWS::Logs::LogGroup", { KmsKeyId: KEY_ARN }, 2);
    template.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: KEY_ARN });
    expect(kmsStatements(policyStatements(template, "ecs-tasks.amazonaws.com"))).toEqual([expect.objectContaining({ Resource: KEY_ARN }) as unknown]);
  });

  it("must be in the stack's Region", () => {
    expect(() => synth({ kms: "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" })).toThrow(/the key is in eu-west-1, the stack in us-east-1/);
  });
});

describe("without kms: AWS-managed keys", () => {
  it("keeps SSE-SQS, DynamoDB's default encryption and S3-managed keys, and grants no KMS action", () => {
    const template = synth({ bulk: {} });
    template.resourceCountIs("AWS::KMS::Key", 0);
    template.resourcePropertiesCountIs("AWS::SQS::Queue", { SqsManagedSseEnabled: true, KmsMasterKeyId: Match.absent() }, 3);
    template.resourcePropertiesCountIs("AWS::DynamoDB::Table", { SSESpecification: Match.absent() }, 3);
    template.hasResourceProperties("AWS::S3::Bucket", {
      LoggingConfiguration: Match.anyValue(),
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] },
    });
    template.resourcePropertiesCountIs("AWS::Logs::LogGroup", { KmsKeyId: Match.absent() }, 2);
    template.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: Match.absent() });
    expect(kmsStatements(policyStatements(template, "ecs-tasks.amazonaws.com"))).toEqual([]);
    expect(kmsStatements(policyStatements(template, "bedrock.amazonaws.com"))).toEqual([]);
  });
});

describe("kms in the CDK context", () => {
  const base = { quotaRpm: 200, quotaTpm: 600_000, callsPerBatch: 1, tokensPerBatch: 12_000, secondsPerBatch: 40, acceptableLatencyS: 600 };
  it('takes "create" or a key ARN, and nothing else', () => {
    const read = (kms: unknown) => stackPropsFromContext((k) => ({ ...base, kms })[k]).props.kms;
    expect(read(undefined)).toBeUndefined();
    expect(read("create")).toBe("create");
    expect(read(KEY_ARN)).toBe(KEY_ARN);
    expect(() => read("alias/labelq")).toThrow(/kms="alias\/labelq": expected "create" or a KMS key ARN/);
  });
});
