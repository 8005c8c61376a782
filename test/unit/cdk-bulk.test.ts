import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { stackPropsFromContext } from "../../deploy/cdk/context.ts";
import { LabelqStack, type LabelqStackProps } from "../../deploy/cdk/labelq-stack.ts";
import { BATCH_ROLE_TRUST_FILE } from "../../deploy/cdk/worker-policy.ts";
import type { BulkContext } from "../../src/app/bulk/bulk-context.ts";
import { BulkLoop } from "../../src/app/bulk/bulk-loop.ts";
import { labelBatch } from "../../src/core/classify/label-batch.ts";
import { loadConfig } from "../../src/core/config/config.ts";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { PromptRegistry } from "../../src/core/prompts/prompt-registry.ts";
import { BULK_SETTINGS, FakeBulkStore, FakeJobControl, FakeObjectStore, FakeOutbox } from "../support/bulk-fakes.ts";
import { FakeIdempotencyStore, FakeLabelCache, FakeModelProvider, PassThroughLimiter, PROMPTS_DIR, silentLogger, validCompactLabels } from "../support/fakes.ts";

const ENV = { account: "123456789012", region: "us-east-1" };
const BASE: LabelqStackProps = {
  env: ENV,
  quota: { rpm: 200, tpm: 600_000 },
  batch: { callsPerBatch: 1, tokensPerBatch: 12_000, secondsPerBatch: 40 },
  acceptableLatencyS: 600,
};
/** labelq's default LABELQ_BULK_PREFIX. */
const PREFIX = loadConfig({}).bulk.prefix;

const stack = new LabelqStack(new App(), "Bulk", { ...BASE, bulk: {} });
const template = Template.fromStack(stack);
const ref = (id: string) => ({ Ref: id });
const arnOf = (id: string) => ({ "Fn::GetAtt": [id, "Arn"] });
const idOf = (type: string, props: Record<string, unknown>) => {
  const ids = Object.keys(template.findResources(type, { Properties: props }));
  expect(ids).toHaveLength(1);
  return ids[0]!;
};
const bucketId = idOf("AWS::S3::Bucket", { LifecycleConfiguration: { Rules: [Match.objectLike({ Id: "expire-job-files" })] } });
const logBucketId = idOf("AWS::S3::Bucket", { LifecycleConfiguration: { Rules: [Match.objectLike({ Id: "expire-access-logs" })] } });
const batchRoleId = idOf("AWS::IAM::Role", { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: "bedrock.amazonaws.com" } })] } });

interface Statement {
  Sid: string;
  Action: unknown;
  Resource: unknown;
  Condition?: unknown;
}
function statements(service: string): Record<string, Statement> {
  const roles = template.findResources("AWS::IAM::Role", { Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: service } })] } } });
  const role = Object.values(roles).find((r) => (r as { Properties: { Policies?: unknown } }).Properties.Policies) as { Properties: { Policies: { PolicyDocument: { Statement: Statement[] } }[] } };
  return Object.fromEntries(role.Properties.Policies[0]!.PolicyDocument.Statement.map((s) => [s.Sid, s]));
}
const under = (id: string, suffix: string) => ({ "Fn::Join": ["", [arnOf(id), suffix]] });

describe("bulk: the stack creates the bulk bucket", () => {
  it("blocks all public access, refuses requests without TLS and encrypts with S3-managed keys (no kms set)", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }] },
      OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] },
      VersioningConfiguration: Match.absent(),
      LifecycleConfiguration: Match.anyValue(),
    });
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: ref(bucketId),
      PolicyDocument: { Statement: [Match.objectLike({ Effect: "Deny", Action: "s3:*", Condition: { Bool: { "aws:SecureTransport": "false" } } })] },
    });
  });

  it("expires job input and output after 30 days (or bulkRetentionDays) with one rule on the jobs folder, and logs access to its own log bucket", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      LifecycleConfiguration: { Rules: [{ Id: "expire-job-files", Status: "Enabled", Prefix: `${PREFIX}jobs/`, ExpirationInDays: 30, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }] },
      LoggingConfiguration: { DestinationBucketName: ref(logBucketId), LogFilePrefix: Match.anyValue() },
    });
    // S3 delivers access logs by the log bucket's policy, for this bucket and account only.
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: ref(logBucketId),
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: "logging.s3.amazonaws.com" }, Action: "s3:PutObject", Condition: { ArnLike: { "aws:SourceArn": arnOf(bucketId) }, StringEquals: { "aws:SourceAccount": ENV.account } } }),
        ]),
      },
    });
    const shorter = Template.fromStack(new LabelqStack(new App(), "Short", { ...BASE, bulk: { retentionDays: 10 } }));
    shorter.hasResourceProperties("AWS::S3::Bucket", { LifecycleConfiguration: { Rules: [Match.objectLike({ Id: "expire-job-files", ExpirationInDays: 10 })] } });
    expect(() => new LabelqStack(new App(), "TooShort", { ...BASE, bulk: { retentionDays: 3 } })).toThrow(/at least 8/);
  });

  it("points the worker at the bucket, the bulk table and Bedrock's service role", () => {
    const env = Object.fromEntries(
      (Object.values(template.findResources("AWS::ECS::TaskDefinition"))[0] as { Properties: { ContainerDefinitions: { Environment: { Name: string; Value: unknown }[] }[] } }).Properties.ContainerDefinitions[0]!.Environment.map((e) => [e.Name, e.Value]),
    );
    const bulkTableId = idOf("AWS::DynamoDB::Table", { TableName: "labelq-bulk" });
    expect(env).toMatchObject({ LABELQ_BULK_BUCKET: ref(bucketId), LABELQ_BULK_ROLE_ARN: arnOf(batchRoleId), LABELQ_BULK_TABLE: ref(bulkTableId) });
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      TableName: "labelq-bulk",
      GlobalSecondaryIndexes: [Match.objectLike({ IndexName: "byGroup", KeySchema: [{ AttributeName: "gpk", KeyType: "HASH" }, { AttributeName: "gsk", KeyType: "RANGE" }] })],
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it("scopes the worker's bulk grants to this bucket, this table and its index, and passing this role to Bedrock only", () => {
    const worker = statements("ecs-tasks.amazonaws.com");
    const bulkTableId = idOf("AWS::DynamoDB::Table", { TableName: "labelq-bulk" });
    expect(worker.BulkBucketObjects!.Resource).toEqual(under(bucketId, `/${PREFIX}*`));
    expect(worker.BulkBucketList).toMatchObject({ Resource: arnOf(bucketId), Condition: { StringLike: { "s3:prefix": `${PREFIX}*` } } });
    expect(worker.BulkTableQueries!.Resource).toEqual([arnOf(bulkTableId), under(bulkTableId, "/index/byGroup")]);
    expect(worker.PassBatchRoleToBedrockOnly).toMatchObject({ Resource: arnOf(batchRoleId), Condition: { StringEquals: { "iam:PassedToService": "bedrock.amazonaws.com" } } });
    const tables = worker.CacheAndIdempotencyTables!.Resource as unknown[];
    expect(tables).toContainEqual(arnOf(bulkTableId));
    expect(tables).toHaveLength(3);
  });

  it("gives Bedrock's service role the jobs folder of this bucket only, trusted for this account's jobs in this Region", () => {
    const batch = statements("bedrock.amazonaws.com");
    expect(batch.ReadJobInput!.Resource).toEqual(under(bucketId, `/${PREFIX}jobs/*`));
    expect(batch.WriteJobOutput!.Resource).toEqual(under(bucketId, `/${PREFIX}jobs/*`));
    expect(batch.ListJobFolders).toMatchObject({ Resource: arnOf(bucketId), Condition: { StringLike: { "s3:prefix": `${PREFIX}jobs/*` } } });
    const trust = JSON.parse(readFileSync(BATCH_ROLE_TRUST_FILE, "utf8").replaceAll("REGION", ENV.region).replaceAll("ACCOUNT_ID", ENV.account)) as { Statement: { Sid: string }[] };
    const { Sid: _sid, ...documented } = trust.Statement[0]!;
    template.hasResourceProperties("AWS::IAM::Role", { AssumeRolePolicyDocument: { Statement: [documented] } });
  });

  it("grants a Nova bulk job in both roles, by its inference profile and its foundation models, when the worker may use Nova", () => {
    const nova = new LabelqStack(new App(), "NovaBulk", { ...BASE, bulk: {}, environment: { LABELQ_ALLOWED_MODELS: "llama3.3-70b,nova-micro" } });
    const json = Template.fromStack(nova).toJSON() as { Resources: Record<string, { Type: string; Properties: { AssumeRolePolicyDocument?: unknown; Policies?: { PolicyDocument: { Statement: Statement[] } }[] } }> };
    const roleStatements = (service: string) =>
      Object.values(json.Resources)
        .filter((r) => r.Type === "AWS::IAM::Role" && JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes(service))
        .flatMap((r) => r.Properties.Policies ?? [])
        .flatMap((p) => p.PolicyDocument.Statement);
    const resourcesFor = (service: string, action: string) =>
      JSON.stringify(roleStatements(service).filter((st) => JSON.stringify(st.Action).includes(action)).map((st) => st.Resource));
    // The job names the model; Bedrock's service role invokes it for each record.
    for (const granted of [resourcesFor("ecs-tasks.amazonaws.com", "bedrock:CreateModelInvocationJob"), resourcesFor("bedrock.amazonaws.com", "bedrock:InvokeModel")]) {
      expect(granted).toContain("inference-profile/us.amazon.nova-micro-v1:0");
      expect(granted).toContain("::foundation-model/amazon.nova-micro-v1:0");
    }
    // Without Nova among its models, neither role grants it.
    expect(JSON.stringify(template.toJSON())).not.toContain("nova-micro");
  });

  it("refuses the bulk path on the Lambda worker, which runs no bulk loop", () => {
    expect(() => new LabelqStack(new App(), "LambdaBulk", { ...BASE, compute: "lambda", bulk: {} })).toThrow(/^bulk: the Lambda worker runs no bulk loop/);
  });

  it("creates no bucket, bulk table or service role and sets no bulk setting without bulk", () => {
    const off = Template.fromStack(new LabelqStack(new App(), "NoBulk", BASE));
    off.resourceCountIs("AWS::S3::Bucket", 0);
    off.resourceCountIs("AWS::DynamoDB::Table", 2);
    expect(JSON.stringify(off.toJSON())).not.toMatch(/LABELQ_BULK_|"Sid":"Bulk|PassBatchRole|bedrock\.amazonaws\.com/);
  });

  it("is read from the context: bulk and bulkRetentionDays", () => {
    const base = { quotaRpm: 200, quotaTpm: 600_000, callsPerBatch: 1, tokensPerBatch: 12_000, secondsPerBatch: 40, acceptableLatencyS: 600 };
    const read = (extra: Record<string, unknown>) => stackPropsFromContext((k) => ({ ...base, ...extra })[k]).props.bulk;
    expect(read({})).toBeUndefined();
    expect(read({ bulk: "true" })).toEqual({ retentionDays: undefined });
    expect(read({ bulk: true, bulkRetentionDays: "14" })).toEqual({ retentionDays: 14 });
    expect(() => read({ bulk: true, bulkRetentionDays: 2 })).toThrow(/bulkRetentionDays=2/);
  });
});

describe("bulk: the lifecycle rule and the grants cover every object the bulk path writes", () => {
  const prompts = new PromptRegistry(PROMPTS_DIR);
  let promptTaxonomy: Awaited<ReturnType<PromptRegistry["resolve"]>>["taxonomy"];
  beforeAll(async () => {
    promptTaxonomy = (await prompts.resolve("product-feedback", "prod")).taxonomy;
  });

  it("job input (written by labelq) and output (written by Bedrock) all fall under the rule's prefix", async () => {
    const store = new FakeBulkStore();
    const objects = new FakeObjectStore();
    const model = () => new FakeModelProvider({ labeller: (t) => validCompactLabels(promptTaxonomy, t), usage: { inputTokens: 2000, outputTokens: 400 } });
    const control = new FakeJobControl(objects, model());
    const logger = silentLogger();
    const deps = { prompts, limiter: new PassThroughLimiter(), provider: model(), logger };
    const ctx: BulkContext = {
      store,
      objects,
      control,
      prompts,
      settings: BULK_SETTINGS,
      bulk: {
        prefix: PREFIX,
        roleArn: "arn:aws:iam::123456789012:role/labelq-bedrock-batch",
        gatherS: 0,
        limits: { maxRecordsPerFile: 50_000, maxRecordsPerJob: 50_000, maxFileBytes: 256_000_000, maxJobBytes: 5_000_000_000, maxJobs: 20, minRecords: 1 },
        jobTimeoutH: 24,
        onJobFailure: "live",
      },
      outbox: new FakeOutbox(),
      idempotency: new FakeIdempotencyStore(),
      cache: new FakeLabelCache(),
      label: (r, at, signal) => labelBatch(r, at, BULK_SETTINGS, deps, signal),
      owner: "w1",
      leaseMs: 60_000,
      logger,
      now: Date.now,
    };
    const request: LabelRequest = { schemaVersion: 1, batchId: "b1", items: Array.from({ length: 12 }, (_, k) => ({ id: `t${k}`, text: `text number ${k}` })) };
    await store.accept({ batchId: "b1", payloadHash: "sha256:b1", model: "llama3.3-70b", request, replyTo: "https://sqs.test/results", receivedAt: new Date().toISOString() });
    const loop = new BulkLoop(ctx, 1000);
    await loop.runOnce();
    await control.run([...store.jobRecords.values()][0]!.jobArn!);
    await loop.runOnce();
    const keys = [...objects.objects.keys()];
    expect(keys.some((k) => k.includes("/input/"))).toBe(true);
    expect(keys.some((k) => k.endsWith(".out"))).toBe(true);
    const rule = (template.findResources("AWS::S3::Bucket")[bucketId] as { Properties: { LifecycleConfiguration: { Rules: { Prefix: string }[] } } }).Properties.LifecycleConfiguration.Rules[0]!;
    for (const key of keys) expect(key.startsWith(rule.Prefix), key).toBe(true);
  });
});
