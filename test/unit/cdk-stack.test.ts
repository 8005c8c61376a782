import { App, type CfnElement } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LabelqStack, type LabelqStackProps, REDIS_PORT } from "../../deploy/cdk/labelq-stack.ts";
import { WORKER_POLICY_FILE } from "../../deploy/cdk/worker-policy.ts";
import { shutdownBudgetS } from "../../deploy/cdk/worker-settings.ts";
import { DEFAULTS, loadConfig } from "../../src/core/config/config.ts";
import { backlogPerTaskTarget, fleetCapacity } from "../../src/app/ops/fleet-size.ts";
import { DEFAULT_MAX_RECEIVE_COUNT } from "../../src/adapters/sqs/create-queues.ts";
import { NAG_VARIANTS, nagFindings, synthVariant } from "../../deploy/cdk/nag.ts";

const ENV = { account: "123456789012", region: "us-east-1" };
const BASE: LabelqStackProps = {
  env: ENV,
  quota: { rpm: 200, tpm: 600_000 },
  batch: { callsPerBatch: 1, tokensPerBatch: 12_000, secondsPerBatch: 40 },
  acceptableLatencyS: 600,
};
const defaults = loadConfig({});

function synth(props: Partial<LabelqStackProps> = {}): { stack: LabelqStack; template: Template } {
  const stack = new LabelqStack(new App(), "Test", { ...BASE, ...props });
  return { stack, template: Template.fromStack(stack) };
}

/** The statements deploy/iam/worker-policy.json grants only for the bulk path, which these stacks leave off. */
const BULK_SIDS = ["BulkJobs", "FindBulkJobsByName", "PassBatchRoleToBedrockOnly", "BulkBucketObjects", "BulkBucketList", "BulkTableQueries"];

/**
 * deploy/iam/worker-policy.json with the placeholders replaced, as a user does with sed, for a
 * stack without the bulk path: the tables are the stack's own (by ARN), the bulk statements absent.
 */
function documentedWorkerPolicy(template: Template) {
  const doc = JSON.parse(readFileSync(WORKER_POLICY_FILE, "utf8").replaceAll("REGION", ENV.region).replaceAll("ACCOUNT_ID", ENV.account)) as { Statement: { Sid: string }[] };
  const tableArn = (name: string) => {
    const [id] = Object.keys(template.findResources("AWS::DynamoDB::Table", { Properties: { TableName: name } }));
    return { "Fn::GetAtt": [id, "Arn"] };
  };
  return doc.Statement.filter((s) => !BULK_SIDS.includes(s.Sid)).map((s) =>
    s.Sid === "CacheAndIdempotencyTables" ? { ...s, Resource: [tableArn(DEFAULTS.tables.cacheTable), tableArn(DEFAULTS.tables.batchesTable)] } : s,
  );
}

/** The statements of the worker's inline policy, by Sid. */
function workerStatements(template: Template, principal = "ecs-tasks.amazonaws.com"): Record<string, { Resource: unknown; Action: unknown }> {
  const roles = template.findResources("AWS::IAM::Role", { Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: principal } })] } } });
  const role = Object.values(roles).find((r) => (r as { Properties: { Policies?: unknown } }).Properties.Policies) as {
    Properties: { Policies: { PolicyDocument: { Statement: { Sid: string; Resource: unknown; Action: unknown }[] } }[] };
  };
  return Object.fromEntries(role.Properties.Policies[0]!.PolicyDocument.Statement.map((s) => [s.Sid, s]));
}

const ecs = synth();

describe("LabelqStack (ECS): queues and tables", () => {
  it("redrives requests to the DLQ after labelq's maxReceiveCount, with the worker's visibility timeout", () => {
    const { template } = ecs;
    template.hasResourceProperties("AWS::SQS::Queue", {
      QueueName: "labelq-requests",
      VisibilityTimeout: defaults.worker.visibilityTimeoutS,
      RedrivePolicy: { deadLetterTargetArn: { "Fn::GetAtt": [Match.stringLikeRegexp("^DeadLetterQueue"), "Arn"] }, maxReceiveCount: DEFAULT_MAX_RECEIVE_COUNT },
    });
    template.hasResourceProperties("AWS::SQS::Queue", { QueueName: "labelq-dlq", MessageRetentionPeriod: 14 * 24 * 3600 });
    template.hasResourceProperties("AWS::SQS::Queue", { QueueName: "labelq-results" });
    template.resourceCountIs("AWS::SQS::Queue", 3);
  });

  it("makes FIFO queues on request, and the task role follows their names", () => {
    const { template } = synth({ fifo: true });
    for (const name of ["labelq-requests.fifo", "labelq-results.fifo", "labelq-dlq.fifo"]) {
      template.hasResourceProperties("AWS::SQS::Queue", { QueueName: name, FifoQueue: true });
    }
    const queue = (name: string) => `arn:aws:sqs:${ENV.region}:${ENV.account}:${name}`;
    const statements = workerStatements(template);
    expect(statements.ConsumeRequests!.Resource).toBe(queue("labelq-requests.fifo"));
    expect(statements.PublishResultsAndDeadLetters!.Resource).toEqual([queue("labelq-results*"), queue("labelq-dlq.fifo"), queue("labelq-requests.fifo")]);
  });

  it("creates both tables on demand, with TTL on expiresAt and point-in-time recovery", () => {
    const { template } = ecs;
    // With the default prefix, the tables labelq's config names by default.
    for (const [name, key] of [[DEFAULTS.tables.cacheTable, "pk"], [DEFAULTS.tables.batchesTable, "batchId"]]) {
      template.hasResourceProperties("AWS::DynamoDB::Table", {
        TableName: name,
        KeySchema: [{ AttributeName: key, KeyType: "HASH" }],
        BillingMode: "PAY_PER_REQUEST",
        TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      });
    }
  });
});

describe("LabelqStack (ECS): the worker", () => {
  it("gives the task role deploy/iam/worker-policy.json for its settings (its own tables by ARN, no bulk path) and nothing else", () => {
    const { template } = ecs;
    const roles = template.findResources("AWS::IAM::Role", { Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: "ecs-tasks.amazonaws.com" } })] } } });
    const taskRole = Object.entries(roles).find(([, r]) => (r as { Properties: { Policies?: unknown } }).Properties.Policies);
    expect(taskRole).toBeDefined();
    const [taskRoleId, role] = taskRole as [string, { Properties: { Policies: { PolicyName: string; PolicyDocument: { Statement: unknown[] } }[]; ManagedPolicyArns?: unknown } }];
    expect(role.Properties.Policies).toHaveLength(1);
    expect(role.Properties.Policies[0]!.PolicyDocument.Statement).toEqual(documentedWorkerPolicy(template));
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    // No grant added statements to the task role behind the documented policy's back.
    const attached = template.findResources("AWS::IAM::Policy", { Properties: { Roles: Match.arrayWith([{ Ref: taskRoleId }]) } });
    expect(Object.keys(attached)).toEqual([]);
    template.hasResourceProperties("AWS::ECS::TaskDefinition", { TaskRoleArn: { "Fn::GetAtt": [taskRoleId, "Arn"] } });
  });

  it("runs the repository's Dockerfile with a /healthz check and stopTimeout from the shutdown budget", () => {
    const { stack, template } = ecs;
    const budget = shutdownBudgetS(defaults.worker);
    expect(budget).toBeGreaterThan(defaults.worker.shutdownTimeoutS);
    template.hasResourceProperties("AWS::ECS::TaskDefinition", {
      RequiresCompatibilities: ["FARGATE"],
      ContainerDefinitions: [
        Match.objectLike({
          Command: ["worker"],
          StopTimeout: budget,
          HealthCheck: Match.objectLike({ Command: Match.arrayWith([Match.stringLikeRegexp(`127\\.0\\.0\\.1:${defaults.http.port}/healthz`)]) }),
          LogConfiguration: Match.objectLike({ LogDriver: "awslogs" }),
          Environment: Match.arrayWith([
            { Name: "LABELQ_EXPECTED_WORKERS", Value: String(stack.maxTasks) },
            { Name: "LABELQ_QUOTA_RPM", Value: "200" },
            { Name: "LABELQ_QUOTA_TPM", Value: "600000" },
          ]),
        }),
      ],
    });
    const assets = stack.node.root as App;
    const manifest = JSON.parse(readFileSync(`${assets.assetOutdir}/Test.assets.json`, "utf8")) as { dockerImages: Record<string, { source: { directory: string; dockerFile?: string } }> };
    const images = Object.values(manifest.dockerImages);
    expect(images).toHaveLength(1);
    expect(images[0]!.source.dockerFile ?? "Dockerfile").toBe("Dockerfile");
  });

  it("caps the fleet with the default model's output burn-down and labelq's share of the quota", () => {
    // Claude 4.x burns 5 quota tokens per output token: 9,000 + 3,000 x 5 = 24,000 a batch,
    // 25 batches/min against 12 per task: 3 tasks where face value (12,000) gave 5.
    const claude = { ...BASE, environment: { LABELQ_DEFAULT_MODEL: "claude-sonnet" }, batch: { ...BASE.batch, outputTokensPerBatch: 3_000 } };
    expect(synth(claude).stack.maxTasks).toBe(3);
    expect(() => synth({ environment: { LABELQ_DEFAULT_MODEL: "claude-sonnet" } })).toThrow(/^outputTokensPerBatch: claude-sonnet burns 5 quota tokens per output token/);
    // Half the quota: 25 batches/min, 3 tasks; Llama's burn-down is 1, so its output needs no figure.
    expect(synth({ quotaShare: 0.5 }).stack.maxTasks).toBe(3);
  });

  it("scales on visible messages per running task with metric math, capped where the quota stops feeding tasks, and on nothing else", () => {
    const { stack, template } = ecs;
    const capacity = fleetCapacity({ ...BASE.batch, quota: BASE.quota, concurrency: defaults.worker.concurrency });
    // 600,000 TPM / 12,000 tokens = 50 batches/min; one task does 8 / 40 s = 12/min: 5 tasks.
    expect(capacity.maxUsefulTasks).toBe(5);
    expect(stack.maxTasks).toBe(5);
    template.hasResourceProperties("AWS::ApplicationAutoScaling::ScalableTarget", { MinCapacity: 1, MaxCapacity: 5, ScalableDimension: "ecs:service:DesiredCount" });
    template.resourceCountIs("AWS::ApplicationAutoScaling::ScalingPolicy", 1);
    template.hasResourceProperties("AWS::ApplicationAutoScaling::ScalingPolicy", {
      PolicyType: "TargetTrackingScaling",
      TargetTrackingScalingPolicyConfiguration: {
        TargetValue: backlogPerTaskTarget({ concurrency: defaults.worker.concurrency, secondsPerBatch: 40 }, 600),
        PredefinedMetricSpecification: Match.absent(),
        CustomizedMetricSpecification: {
          Metrics: [
            Match.objectLike({ Id: "visible", MetricStat: Match.objectLike({ Metric: Match.objectLike({ Namespace: "AWS/SQS", MetricName: "ApproximateNumberOfMessagesVisible" }), Stat: "Sum" }), ReturnData: false }),
            Match.objectLike({ Id: "tasks", MetricStat: Match.objectLike({ Metric: Match.objectLike({ Namespace: "ECS/ContainerInsights", MetricName: "RunningTaskCount" }) }), ReturnData: false }),
            Match.objectLike({ Id: "backlogPerTask", Expression: "visible / tasks", ReturnData: true }),
          ],
        },
      },
    });
    // 600 s of latency at 8 batches per 40 s: a backlog of 120 per task.
    expect(stack.backlogTarget).toBe(120);
    template.hasResourceProperties("AWS::ECS::Cluster", { ClusterSettings: [{ Name: "containerInsights", Value: "enabled" }] });
  });

  it("with minTasks 0, leaves zero by a step policy on visible requests that no worker receives: one more task from one waiting message", () => {
    const { stack, template } = synth({ minTasks: 0 });
    template.hasResourceProperties("AWS::ApplicationAutoScaling::ScalableTarget", { MinCapacity: 0, MaxCapacity: 5 });
    template.hasResourceProperties("AWS::ECS::Service", { DesiredCount: 0 });
    // Target tracking stays; the step policy is added beside it.
    template.resourceCountIs("AWS::ApplicationAutoScaling::ScalingPolicy", 2);
    template.hasResourceProperties("AWS::ApplicationAutoScaling::ScalingPolicy", { PolicyType: "TargetTrackingScaling" });
    const steps = template.findResources("AWS::ApplicationAutoScaling::ScalingPolicy", { Properties: { PolicyType: "StepScaling" } });
    expect(Object.keys(steps)).toHaveLength(1);
    const [stepId, step] = Object.entries(steps)[0] as [string, { Properties: { ScalingTargetId: unknown; StepScalingPolicyConfiguration: Record<string, unknown> } }];
    expect(step.Properties.ScalingTargetId).toEqual({ Ref: expect.stringMatching(/^WorkerScaling/) as unknown });
    const config = step.Properties.StepScalingPolicyConfiguration as {
      AdjustmentType: string;
      Cooldown: number;
      StepAdjustments: { MetricIntervalLowerBound?: number; MetricIntervalUpperBound?: number; ScalingAdjustment: number }[];
    };
    expect(config.AdjustmentType).toBe("ChangeInCapacity");
    expect(config.Cooldown).toBeGreaterThanOrEqual(60);
    // Every step adds at least one task from zero (so capacity becomes >= 1), and none removes one.
    expect(config.StepAdjustments.length).toBeGreaterThan(0);
    for (const a of config.StepAdjustments) expect(a.ScalingAdjustment).toBeGreaterThanOrEqual(1);
    expect(config.StepAdjustments.some((a) => a.MetricIntervalLowerBound === 0)).toBe(true);

    // The alarm that triggers it: one or more visible requests on the requests queue while none is in flight.
    const alarms = template.findResources("AWS::CloudWatch::Alarm", { Properties: { AlarmActions: [{ Ref: stepId }] } });
    expect(Object.keys(alarms)).toHaveLength(1);
    const alarm = Object.values(alarms)[0] as {
      Properties: { ComparisonOperator: string; Threshold: number; EvaluationPeriods: number; Metrics: { Id: string; Expression?: string; MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: unknown } } }[] };
    };
    expect(alarm.Properties.ComparisonOperator).toBe("GreaterThanOrEqualToThreshold");
    expect(alarm.Properties.Threshold).toBe(1);
    expect(alarm.Properties.EvaluationPeriods).toBeGreaterThanOrEqual(1);
    const requestsQueue = [{ Name: "QueueName", Value: { "Fn::GetAtt": [stack.getLogicalId(stack.requests.node.defaultChild as CfnElement), "QueueName"] } }];
    const byName = (name: string) => alarm.Properties.Metrics.find((m) => m.MetricStat?.Metric.MetricName === name);
    expect(byName("ApproximateNumberOfMessagesVisible")?.MetricStat?.Metric).toEqual({ Namespace: "AWS/SQS", MetricName: "ApproximateNumberOfMessagesVisible", Dimensions: requestsQueue });
    expect(byName("ApproximateNumberOfMessagesNotVisible")?.MetricStat?.Metric).toEqual({ Namespace: "AWS/SQS", MetricName: "ApproximateNumberOfMessagesNotVisible", Dimensions: requestsQueue });
    const visibleId = byName("ApproximateNumberOfMessagesVisible")!.Id;
    const inflightId = byName("ApproximateNumberOfMessagesNotVisible")!.Id;
    expect(alarm.Properties.Metrics.map((m) => m.Expression).filter(Boolean)).toEqual([`IF(${inflightId} == 0, ${visibleId}, 0)`]);
    // No lower alarm: the policy never removes tasks.
    template.resourceCountIs("AWS::CloudWatch::Alarm", 5);
  });

  it("with minTasks 0 stays clean under cdk-nag's AwsSolutions pack (cdk.json's ECS context, as `npm run deploy:nag`)", () => {
    const outdir = mkdtempSync(path.join(tmpdir(), "labelq-zero-nag-"));
    try {
      const findings = nagFindings(synthVariant({ ...NAG_VARIANTS.ecs, minTasks: 0 }, outdir));
      expect(findings.filter((f) => f.severity === "error")).toEqual([]);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it("with minTasks 1 or more has no step policy: target tracking alone", () => {
    for (const minTasks of [1, 3]) {
      const { template } = synth({ minTasks });
      template.hasResourceProperties("AWS::ApplicationAutoScaling::ScalableTarget", { MinCapacity: minTasks });
      template.resourceCountIs("AWS::ApplicationAutoScaling::ScalingPolicy", 1);
      template.resourcePropertiesCountIs("AWS::ApplicationAutoScaling::ScalingPolicy", { PolicyType: "StepScaling" }, 0);
      template.resourceCountIs("AWS::CloudWatch::Alarm", 4);
    }
  });

  it("stops at the ceiling when no quota is configured", () => {
    expect(synth({ quota: { rpm: 0, tpm: 0 }, maxTasksCeiling: 12 }).stack.maxTasks).toBe(12);
  });
});

describe("LabelqStack (ECS): Redis and alarms", () => {
  it("creates a Multi-AZ Valkey group with TLS on a non-default port for the limiter, or uses the Redis it is given", () => {
    ecs.template.hasResourceProperties("AWS::ElastiCache::ReplicationGroup", {
      Engine: "valkey",
      TransitEncryptionEnabled: true,
      NumCacheClusters: 2,
      AutomaticFailoverEnabled: true,
      MultiAZEnabled: true,
      Port: REDIS_PORT,
    });
    expect(REDIS_PORT).not.toBe(6379);
    const { template } = synth({ redisUrl: "rediss://limiter.example:6379" });
    template.resourceCountIs("AWS::ElastiCache::ReplicationGroup", 0);
    template.hasResourceProperties("AWS::ECS::TaskDefinition", {
      ContainerDefinitions: [Match.objectLike({ Environment: Match.arrayWith([{ Name: "LABELQ_REDIS_URL", Value: "rediss://limiter.example:6379" }]) })],
    });
  });

  it("alarms on dead letters, the oldest request's age, the throttled share and the text error share", () => {
    const { template } = ecs;
    template.resourceCountIs("AWS::CloudWatch::Alarm", 4);
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [Match.stringLikeRegexp("^DeadLetterQueue"), "QueueName"] } }],
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
      AlarmActions: [{ Ref: Match.stringLikeRegexp("^AlarmTopic") }],
    });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", { MetricName: "ApproximateAgeOfOldestMessage", Threshold: 1_200 });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Threshold: 0.05,
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: "IF(invocations + throttles > 0, throttles / (invocations + throttles), 0)" }),
        Match.objectLike({
          Id: "throttles",
          MetricStat: Match.objectLike({
            Metric: { Namespace: "AWS/Bedrock", MetricName: "InvocationThrottles", Dimensions: [{ Name: "ModelId", Value: "us.meta.llama3-3-70b-instruct-v1:0" }] },
          }),
        }),
      ]),
    });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Threshold: 0.02,
      Metrics: Match.arrayWith([Match.objectLike({ Expression: "IF(texts > 0, errors / texts, 0)" })]),
    });
    template.hasResourceProperties("AWS::Logs::MetricFilter", {
      FilterPattern: '{ $.msg = "batch labelled" }',
      MetricTransformations: [Match.objectLike({ MetricNamespace: "labelq", MetricName: "TextErrors", MetricValue: "$.errors" })],
    });
  });
});
