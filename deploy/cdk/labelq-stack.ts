import { Aws, CfnOutput, CfnRule, type CfnElement, Duration, Fn, RemovalPolicy, Stack, type StackProps, Token, Validations } from "aws-cdk-lib";
import * as appscaling from "aws-cdk-lib/aws-applicationautoscaling";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as cwActions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import { Platform } from "aws-cdk-lib/aws-ecr-assets";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as elasticache from "aws-cdk-lib/aws-elasticache";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as logs from "aws-cdk-lib/aws-logs";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY } from "aws-cdk-lib/cx-api";
import type { Construct } from "constructs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Geography, geographyOf, type ModelSpec, type Residency } from "../../src/core/models/model-catalogue.ts";
import { findModel } from "../../src/core/models/model-registry.ts";
import { backlogPerTaskTarget, type BatchProfile, fleetCapacity, type Quota } from "../../src/app/ops/fleet-size.ts";
import { tableDefinitions } from "../../src/adapters/dynamodb/create-tables.ts";
import { batchModels, bedrockGrants, GEOGRAPHY_REGIONS, workerModels } from "./bedrock-grants.ts";
import { BulkStorage } from "./bulk-storage.ts";
import { dataKey, type KmsSetting } from "./data-key.ts";
import { BULK_JOBS_FOLDER, type BulkGrants, workerPolicy } from "./worker-policy.ts";
import { labelqDefaults, shutdownBudgetS } from "./worker-settings.ts";

/** The repository root: the worker image is built from its Dockerfile. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Fargate kills a container this long after SIGTERM at most (ECS ContainerDefinition stopTimeout). */
const FARGATE_MAX_STOP_TIMEOUT_S = 120;
/** Lambda + SQS: the queue's visibility timeout should be at least 6x the function timeout (Lambda developer guide, "Using Lambda with Amazon SQS"). */
export const LAMBDA_VISIBILITY_FACTOR = 6;
/** The limiter's Redis listens here rather than on the default 6379 (cdk-nag AwsSolutions-AEC5). */
export const REDIS_PORT = 6380;
/**
 * Interface endpoints the worker reaches AWS through (the subnets have no route to the internet);
 * secretsmanager is where ECS fetches the Redis AUTH token as a task starts.
 */
export const INTERFACE_ENDPOINTS = ["bedrock-runtime", "bedrock", "sqs", "logs", "ecr.api", "ecr.dkr", "sts", "monitoring", "secretsmanager"] as const;
/** The worker's setting for the limiter Redis's AUTH token, and the field of the stack's secret that holds it. */
export const REDIS_AUTH_TOKEN_ENV = "LABELQ_REDIS_AUTH_TOKEN";
const REDIS_AUTH_TOKEN_FIELD = "token";
/** SQS event source MaximumConcurrency must be from 2 to 1000. */
const LAMBDA_MAX_CONCURRENCY_RANGE = [2, 1_000] as const;

export interface LabelqStackProps extends StackProps {
  /** Name prefix of queues and tables; deploy/iam/worker-policy.json is written for "labelq". Default "labelq". */
  prefix?: string;
  /** FIFO requests, results and dead-letter queues. Default false. */
  fifo?: boolean;
  /** Where the worker runs: long-running ECS Fargate tasks, or a Lambda function on the requests queue. Default "ecs". */
  compute?: "ecs" | "lambda";
  /** An existing Redis for the fleet-wide limiter (redis:// or rediss://); without it the stack creates an ElastiCache (Valkey) node. */
  redisUrl?: string;
  /** ElastiCache node type when the stack creates the Redis. Default cache.t4g.micro. */
  cacheNodeType?: string;
  /** The account's Bedrock quota for the default model (Service Quotas); 0 = no limit of that kind. */
  quota: Quota;
  /** The share of that quota labelq may use, where other workloads use the same model (0 < share <= 1). Default 1. */
  quotaShare?: number;
  /** One batch as measured on an unthrottled worker: model calls, tokens and wall time (see src/app/ops/fleet-size.ts). */
  batch: BatchProfile;
  /** How long a request may wait in the queue before it is worked on: sets the backlog-per-task target. */
  acceptableLatencyS: number;
  /** Batches in flight per task (LABELQ_CONCURRENCY). Default: labelq's default. */
  concurrency?: number;
  /** Fewest tasks. Default 1. */
  minTasks?: number;
  /** A hard ceiling on tasks whatever the quota allows. Default 64. */
  maxTasksCeiling?: number;
  cpu?: number;
  memoryMiB?: number;
  /** More worker settings (LABELQ_DEFAULT_MODEL, LABELQ_REPLY_TO_ALLOWLIST, ...). */
  environment?: Record<string, string>;
  /** Lambda mode: function timeout (the queue's visibility becomes 6x this) and messages per invocation. */
  lambda?: { timeoutS?: number; batchSize?: number; memoryMiB?: number };
  /** Alarm when the oldest request is older than this. Default: twice the acceptable latency. */
  oldestMessageAlarmS?: number;
  /** Alarm when more than this share (0-1) of Bedrock calls is throttled, or of texts ends in an error. Defaults 0.05 and 0.02. */
  throttledShareAlarm?: number;
  errorShareAlarm?: number;
  /** Email subscribed to the alarm topic. */
  alarmEmail?: string;
  /**
   * An existing VPC (its PRIVATE_WITH_EGRESS subnets, its own endpoints and flow logs); default a
   * new one with two AZs, isolated subnets only (no internet or NAT gateway), a flow log, and
   * gateway (S3, DynamoDB) and interface endpoints for every AWS service the worker calls.
   */
  vpc?: ec2.IVpc;
  /**
   * Where Bedrock may run prompts (LABELQ_RESIDENCY, docs/residency.md): the worker's setting, and
   * the only model and inference-profile ARNs its role may call. Default "geography".
   */
  residency?: Residency;
  /**
   * The inference profiles' geography (LABELQ_MODEL_GEOGRAPHY). Default: the stack Region's
   * (us-* us, eu-* eu, ap-* apac, else global); "us" when the Region is not known at synth time,
   * with a template rule that refuses Regions outside it.
   */
  modelGeography?: Geography;
  /**
   * A customer-managed KMS key for the queues, tables, bulk bucket, log groups, alarm topic and
   * Redis AUTH secret: "create" one (rotation on), or an existing key's ARN. Default AWS-managed keys.
   */
  kms?: KmsSetting;
  /**
   * The bulk path (Bedrock batch inference, docs/bulk.md): the stack creates the bucket, the bulk
   * table and the service role Bedrock assumes, and sets LABELQ_BULK_BUCKET, LABELQ_BULK_ROLE_ARN
   * and LABELQ_BULK_TABLE. Job files expire after `retentionDays` (default 30). Default off.
   */
  bulk?: { retentionDays?: number };
}

/**
 * labelq on AWS: requests/results/DLQ queues, the cache and batch-record tables, a Redis for
 * the fleet-wide limiter, the worker on ECS Fargate (or Lambda), alarms, and autoscaling on
 * backlog per task capped where the Bedrock quota stops feeding more workers.
 */
export class LabelqStack extends Stack {
  readonly requests: sqs.Queue;
  readonly results: sqs.Queue;
  readonly dlq: sqs.Queue;
  readonly tables: { cache: dynamodb.Table; batches: dynamodb.Table; bulk?: dynamodb.Table };
  /** Task (ECS) or function (Lambda) count the quota can feed. */
  readonly maxTasks: number;
  readonly backlogTarget: number;
  readonly alarmTopic: sns.Topic;
  /** The customer-managed key, when `kms` is set. */
  readonly dataKey?: kms.IKey;
  /** The bulk bucket, its access logs and Bedrock's service role, when `bulk` is set. */
  readonly bulk?: BulkStorage;
  /** The secret holding the AUTH token of the Redis the stack creates. */
  readonly redisAuth?: secretsmanager.Secret;
  /** The models the worker may call, resolved for its residency and geography. */
  readonly models: readonly ModelSpec[];

  constructor(scope: Construct, id: string, props: LabelqStackProps) {
    super(scope, id, props);
    // S3 delivers the bulk bucket's access logs by bucket policy (not the legacy log-delivery ACL,
    // which needs ACLs on the log bucket); set here so the stack does not depend on cdk.json's flags.
    this.node.setContext(S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);
    const { config, maxReceiveCount } = labelqDefaults();
    const prefix = props.prefix ?? "labelq";
    const fifo = props.fifo ?? false;
    const compute = props.compute ?? "ecs";
    // The Lambda handler refuses the bulk settings at cold start: it runs no bulk loop to submit and collect jobs.
    if (compute === "lambda" && props.bulk) throw new Error("bulk: the Lambda worker runs no bulk loop (it refuses the bulk settings at cold start); deploy the bulk path with compute=ecs");
    const concurrency = props.concurrency ?? config.worker.concurrency;
    const capacity = fleetCapacity({ ...props.batch, outputBurnDown: burnDownOf(props, config.models.default), quota: props.quota, quotaShare: props.quotaShare, concurrency });
    const ceiling = props.maxTasksCeiling ?? 64;
    this.maxTasks = Math.min(capacity.maxUsefulTasks ?? ceiling, ceiling);
    this.backlogTarget = backlogPerTaskTarget({ concurrency, secondsPerBatch: props.batch.secondsPerBatch }, props.acceptableLatencyS);
    const minTasks = Math.min(props.minTasks ?? 1, this.maxTasks);

    // --- Models: what the worker may call under its residency, from the catalogue it loads itself ---
    for (const variable of ["LABELQ_RESIDENCY", "LABELQ_MODEL_GEOGRAPHY"]) {
      if (props.environment?.[variable] !== undefined) throw new Error(`environment.${variable}: set the stack's residency / modelGeography instead, which the role's Bedrock grants follow`);
    }
    const residency = props.residency ?? "geography";
    const regionKnown = !Token.isUnresolved(this.region);
    const geography = props.modelGeography ?? (regionKnown ? geographyOf(this.region) : "us");
    this.models = workerModels({ region: regionKnown ? this.region : "the stack's Region", geography, residency, environment: props.environment });
    if (!regionKnown) this.#requireRegionIn(geography);
    this.dataKey = dataKey(this, props.kms);
    const key = this.dataKey;

    // --- Queues: the same names, redrive and visibility as src/adapters/sqs/create-queues.ts ---------
    const lambdaTimeoutS = props.lambda?.timeoutS ?? 180;
    const visibilityS = compute === "lambda" ? Math.max(config.worker.visibilityTimeoutS, LAMBDA_VISIBILITY_FACTOR * lambdaTimeoutS) : config.worker.visibilityTimeoutS;
    const suffix = fifo ? ".fifo" : "";
    const queueProps = {
      ...(fifo ? { fifo: true, contentBasedDeduplication: false } : {}),
      ...(key ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key } : { encryption: sqs.QueueEncryption.SQS_MANAGED }),
      enforceSSL: true,
    };
    this.dlq = new sqs.Queue(this, "DeadLetterQueue", { queueName: `${prefix}-dlq${suffix}`, retentionPeriod: Duration.days(14), ...queueProps });
    this.requests = new sqs.Queue(this, "RequestsQueue", {
      queueName: `${prefix}-requests${suffix}`,
      visibilityTimeout: Duration.seconds(visibilityS),
      deadLetterQueue: { queue: this.dlq, maxReceiveCount },
      ...queueProps,
    });
    this.results = new sqs.Queue(this, "ResultsQueue", { queueName: `${prefix}-results${suffix}`, ...queueProps });
    Validations.of(this.results).acknowledge({
      id: "AwsSolutions-SQS3",
      reason:
        "Results must not be redriven: `labelq collect` receives and holds every result of other producers' batches while it waits for its own (src/app/producer/collect-results.ts), so a receive count says nothing about a poison message and a redrive would move results their producer still waits for; unread results expire with the queue's retention.",
    });

    // --- Tables: keys from src/adapters/dynamodb/create-tables.ts; TTL on expiresAt; PITR on -------------
    const names = { cacheTable: `${prefix}-label-cache`, batchesTable: `${prefix}-batches`, bulkTable: props.bulk ? `${prefix}-bulk` : undefined };
    const [cacheDef, batchesDef, bulkDef] = tableDefinitions(names);
    const table = (cid: string, def: NonNullable<typeof cacheDef>) => {
      const t = new dynamodb.Table(this, cid, {
        tableName: def.TableName,
        partitionKey: { name: def.KeySchema![0]!.AttributeName!, type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        // labelq also compares expiresAt on every read: TTL deletion is lazy.
        timeToLiveAttribute: "expiresAt",
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        ...(key ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: key } : {}),
        removalPolicy: RemovalPolicy.RETAIN,
      });
      for (const index of def.GlobalSecondaryIndexes ?? []) {
        const [hash, range] = index.KeySchema!;
        t.addGlobalSecondaryIndex({
          indexName: index.IndexName!,
          partitionKey: { name: hash!.AttributeName!, type: dynamodb.AttributeType.STRING },
          ...(range ? { sortKey: { name: range.AttributeName!, type: dynamodb.AttributeType.STRING } } : {}),
          projectionType: dynamodb.ProjectionType.ALL,
        });
      }
      return t;
    };
    this.tables = { cache: table("LabelCacheTable", cacheDef!), batches: table("BatchesTable", batchesDef!), ...(bulkDef ? { bulk: table("BulkTable", bulkDef) } : {}) };

    // --- Network and the fleet-wide limiter's Redis --------------------------------------------
    const ownVpc = props.vpc ? undefined : this.#createVpc(key);
    const vpc: ec2.IVpc = props.vpc ?? ownVpc!;
    const workerSubnets: ec2.SubnetSelection = { subnetType: props.vpc ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED };
    const workerSg = new ec2.SecurityGroup(this, "WorkerSecurityGroup", { vpc, description: "labelq workers: HTTPS to AWS endpoints and the limiter Redis only", allowAllOutbound: false });
    if (ownVpc) this.#endpoints(ownVpc, workerSg);
    // Gateway endpoints (S3, DynamoDB) are reached by route, not by address: their prefix lists
    // are not known at synth time. In the stack's own VPC the isolated subnets route nowhere
    // else, so HTTPS to any address reaches only the endpoints.
    workerSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), "HTTPS: AWS endpoints (the only routes out of the isolated subnets)");
    let redisUrl = props.redisUrl;
    if (!redisUrl) {
      const created = this.#createRedis(vpc, workerSubnets, workerSg, props.cacheNodeType ?? "cache.t4g.micro", key);
      redisUrl = created.url;
      this.redisAuth = created.auth;
    }

    // --- The bulk path: bucket, access logs, Bedrock's service role -------------------------------
    const at = { region: this.region, account: this.account };
    const bulkPrefix = props.environment?.LABELQ_BULK_PREFIX ?? config.bulk.prefix;
    const batchGrants = bedrockGrants(batchModels(this.models), at);
    if (props.bulk) {
      this.bulk = new BulkStorage(this, "BulkStorage", { objectPrefix: bulkPrefix, retentionDays: props.bulk.retentionDays ?? 30, models: batchGrants, key });
      this.#acknowledgeBatchRole(this.bulk, bulkPrefix);
    }

    // --- The worker's role: worker-policy.ts (deploy/iam/worker-policy.json for the defaults) -------
    const bulkGrants: BulkGrants | undefined =
      this.bulk && this.tables.bulk
        ? { bucketArn: this.bulk.bucket.bucketArn, objectPrefix: bulkPrefix, tableArn: this.tables.bulk.tableArn, batchRoleArn: this.bulk.batchRole.roleArn, models: batchGrants }
        : undefined;
    const policy = iam.PolicyDocument.fromJson(
      workerPolicy({
        ...at,
        prefix,
        fifo,
        tableArns: [this.tables.cache, this.tables.batches, ...(this.tables.bulk ? [this.tables.bulk] : [])].map((t) => t.tableArn),
        bedrock: bedrockGrants(this.models, at),
        bulk: bulkGrants,
        kmsKeyArn: key?.keyArn,
      }),
    );
    const roleFor = (principal: string) =>
      new iam.Role(this, compute === "ecs" ? "TaskRole" : "FunctionRole", {
        assumedBy: new iam.ServicePrincipal(principal),
        description: "labelq worker: deploy/cdk/worker-policy.ts (deploy/iam/worker-policy.json for the default settings)",
        inlinePolicies: { "labelq-worker": policy },
      });
    const role = roleFor(compute === "ecs" ? "ecs-tasks.amazonaws.com" : "lambda.amazonaws.com");
    this.#acknowledgeWorkerPolicyWildcards(role, { prefix, bulk: this.bulk, bulkPrefix });

    const quotaEnv = { LABELQ_QUOTA_RPM: String(props.quota.rpm), LABELQ_QUOTA_TPM: String(props.quota.tpm) };
    const environment: Record<string, string> = {
      AWS_REGION: Aws.REGION,
      LABELQ_REQUESTS_QUEUE_URL: this.requests.queueUrl,
      LABELQ_RESULTS_QUEUE_URL: this.results.queueUrl,
      LABELQ_DLQ_URL: this.dlq.queueUrl,
      LABELQ_CACHE_TABLE: this.tables.cache.tableName,
      LABELQ_BATCHES_TABLE: this.tables.batches.tableName,
      LABELQ_REDIS_URL: redisUrl,
      LABELQ_CONCURRENCY: String(concurrency),
      // Each worker takes 1/N of the quota while Redis is unreachable.
      LABELQ_EXPECTED_WORKERS: String(this.maxTasks),
      LABELQ_VISIBILITY_TIMEOUT_S: String(visibilityS),
      ...(this.bulk && this.tables.bulk
        ? { LABELQ_BULK_BUCKET: this.bulk.bucket.bucketName, LABELQ_BULK_ROLE_ARN: this.bulk.batchRole.roleArn, LABELQ_BULK_TABLE: this.tables.bulk.tableName }
        : {}),
      ...quotaEnv,
      ...props.environment,
      // The residency and geography the role's model grants were built for (after `environment`: they cannot disagree).
      LABELQ_RESIDENCY: residency,
      LABELQ_MODEL_GEOGRAPHY: geography,
    };

    const logGroup = new logs.LogGroup(this, "WorkerLogs", { retention: logs.RetentionDays.ONE_MONTH, encryptionKey: key, removalPolicy: RemovalPolicy.DESTROY });
    if (compute === "ecs") {
      this.#ecsWorker({ vpc, subnets: workerSubnets, workerSg, logGroup, environment, role, minTasks, props, config });
    } else {
      this.#lambdaWorker({ vpc, subnets: workerSubnets, workerSg, logGroup, environment, role, timeoutS: lambdaTimeoutS, maxInFlight: capacity.maxUsefulInFlight, props });
    }

    this.alarmTopic = new sns.Topic(this, "AlarmTopic", { displayName: "labelq alarms", enforceSSL: true, masterKey: key });
    if (props.alarmEmail) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    // The default model as the worker resolves it (the first of the worker's models): the id Bedrock's metrics carry.
    this.#alarms(logGroup, props, this.models[0]!.modelId);

    new CfnOutput(this, "RequestsQueueUrl", { value: this.requests.queueUrl });
    new CfnOutput(this, "ResultsQueueUrl", { value: this.results.queueUrl });
    new CfnOutput(this, "DeadLetterQueueUrl", { value: this.dlq.queueUrl });
    new CfnOutput(this, "MaxTasks", { value: String(this.maxTasks), description: "workers the Bedrock quota can feed (src/app/ops/fleet-size.ts)" });
    if (this.bulk) new CfnOutput(this, "BulkBucketName", { value: this.bulk.bucket.bucketName, description: "job input and output of the bulk path (LABELQ_BULK_BUCKET)" });
  }

  /**
   * An environment-agnostic stack does not know its Region at synth time, so it cannot know the
   * geography of the profiles its role grants: it grants `geography`'s, and refuses to deploy in a
   * Region outside it, where those profiles cannot be called (set `region` or `modelGeography`).
   */
  #requireRegionIn(geography: Geography): void {
    const profiled = this.models.some((m) => m.idKind === "us" || m.idKind === "eu" || m.idKind === "apac");
    if (!profiled || geography === "global") return;
    const regions = GEOGRAPHY_REGIONS[geography];
    new CfnRule(this, "RegionInModelGeography", {
      assertions: [
        {
          assert: Fn.conditionContains([...regions], Aws.REGION),
          assertDescription: `labelq's role grants the ${geography}. inference profiles, callable from ${regions.join(", ")}: deploy there, or synthesize with -c region=... or -c modelGeography=...`,
        },
      ],
    });
  }

  /** Two AZs of isolated subnets (no internet gateway, no NAT), every flow logged to CloudWatch Logs. */
  #createVpc(key: kms.IKey | undefined): ec2.Vpc {
    const vpc = new ec2.Vpc(this, "Vpc", {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: "isolated", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
    });
    const flowLogs = new logs.LogGroup(this, "VpcFlowLogs", { retention: logs.RetentionDays.THREE_MONTHS, encryptionKey: key, removalPolicy: RemovalPolicy.RETAIN });
    vpc.addFlowLog("FlowLog", { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: ec2.FlowLogTrafficType.ALL });
    return vpc;
  }

  /** Gateway endpoints for S3 and DynamoDB, interface endpoints (private DNS) for the rest, open to the workers only. */
  #endpoints(vpc: ec2.Vpc, workerSg: ec2.SecurityGroup): void {
    vpc.addGatewayEndpoint("S3Endpoint", { service: ec2.GatewayVpcEndpointAwsService.S3 });
    vpc.addGatewayEndpoint("DynamoDbEndpoint", { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB });
    const sg = new ec2.SecurityGroup(this, "EndpointSecurityGroup", { vpc, description: "labelq interface endpoints: HTTPS from the workers", allowAllOutbound: false });
    sg.addIngressRule(workerSg, ec2.Port.tcp(443), "labelq workers");
    for (const name of INTERFACE_ENDPOINTS) {
      const id = `${name.split(/[.-]/).map((w) => w[0]!.toUpperCase() + w.slice(1)).join("")}Endpoint`;
      vpc.addInterfaceEndpoint(id, {
        service: new ec2.InterfaceVpcEndpointAwsService(name),
        privateDnsEnabled: true,
        securityGroups: [sg],
        open: false,
      });
    }
  }

  /**
   * A Valkey replication group for the limiter (cluster mode off: Bottleneck's Lua scripts
   * touch several keys): a primary and a replica in two AZs with automatic failover, TLS in
   * transit, on REDIS_PORT, reachable only from the workers' security group, and AUTH on with a
   * token the stack generates into a Secrets Manager secret (the worker gets it as the secret
   * LABELQ_REDIS_AUTH_TOKEN). ElastiCache takes 16-128 printable characters and few symbols
   * ("Authenticating with the Valkey and Redis OSS AUTH command",
   * https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/auth.html): 64 letters and digits.
   */
  #createRedis(
    vpc: ec2.IVpc,
    subnetSelection: ec2.SubnetSelection,
    workerSg: ec2.SecurityGroup,
    nodeType: string,
    key: kms.IKey | undefined,
  ): { url: string; auth: secretsmanager.Secret } {
    const sg = new ec2.SecurityGroup(this, "RedisSecurityGroup", { vpc, description: "labelq limiter Redis", allowAllOutbound: false });
    sg.addIngressRule(workerSg, ec2.Port.tcp(REDIS_PORT), "labelq workers");
    workerSg.addEgressRule(sg, ec2.Port.tcp(REDIS_PORT), "the limiter's Redis");
    const subnets = new elasticache.CfnSubnetGroup(this, "RedisSubnets", {
      description: "labelq limiter",
      subnetIds: vpc.selectSubnets(subnetSelection).subnetIds,
    });
    const auth = new secretsmanager.Secret(this, "RedisAuthToken", {
      description: "AUTH token of labelq's limiter Redis (LABELQ_REDIS_AUTH_TOKEN)",
      encryptionKey: key,
      generateSecretString: { secretStringTemplate: "{}", generateStringKey: REDIS_AUTH_TOKEN_FIELD, excludePunctuation: true, passwordLength: 64 },
    });
    Validations.of(auth).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "Not rotated automatically: an ElastiCache AUTH token changes through ModifyReplicationGroup (AuthTokenUpdateStrategy ROTATE, then SET), which a Secrets Manager rotation function would have to drive, and ECS tasks read the secret only when they start. The token only guards rate-limiter counters on a group reachable from the workers' security group alone, over TLS; rotate it by hand as docs/deploy.md describes.",
    });
    const redis = new elasticache.CfnReplicationGroup(this, "Redis", {
      replicationGroupDescription: "labelq fleet-wide rate limiter",
      engine: "valkey",
      cacheNodeType: nodeType,
      numCacheClusters: 2,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      port: REDIS_PORT,
      transitEncryptionEnabled: true,
      atRestEncryptionEnabled: true,
      // A dynamic reference ({{resolve:secretsmanager:...}}): CloudFormation reads the token at deploy time; the template holds none.
      authToken: auth.secretValueFromJson(REDIS_AUTH_TOKEN_FIELD).unsafeUnwrap(),
      cacheSubnetGroupName: subnets.ref,
      securityGroupIds: [sg.securityGroupId],
    });
    // The limiter holds only counters: losing them costs a moment of local limiting (LABELQ_EXPECTED_WORKERS), not work.
    return { url: `rediss://${redis.attrPrimaryEndPointAddress}:${redis.attrPrimaryEndPointPort}`, auth };
  }

  #ecsWorker(o: {
    vpc: ec2.IVpc;
    subnets: ec2.SubnetSelection;
    workerSg: ec2.SecurityGroup;
    logGroup: logs.LogGroup;
    environment: Record<string, string>;
    role: iam.Role;
    minTasks: number;
    props: LabelqStackProps;
    config: ReturnType<typeof labelqDefaults>["config"];
  }): void {
    const stopTimeoutS = shutdownBudgetS(o.config.worker);
    if (stopTimeoutS > FARGATE_MAX_STOP_TIMEOUT_S) {
      throw new Error(`the worker's shutdown budget (${stopTimeoutS} s) exceeds Fargate's maximum stopTimeout of ${FARGATE_MAX_STOP_TIMEOUT_S} s`);
    }
    // Container Insights publishes RunningTaskCount, the denominator of backlog per task.
    const cluster = new ecs.Cluster(this, "Cluster", { vpc: o.vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    const taskDefinition = new ecs.FargateTaskDefinition(this, "WorkerTask", {
      cpu: o.props.cpu ?? 1024,
      memoryLimitMiB: o.props.memoryMiB ?? 2048,
      taskRole: o.role,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    const port = o.config.http.port;
    // The root filesystem is read-only; the one writable place is /tmp, a task-local volume
    // (Fargate has no tmpfs mounts; an unnamed volume without a host path lives and dies with the task).
    taskDefinition.addVolume({ name: "tmp" });
    const container = taskDefinition.addContainer("worker", {
      // The repository's Dockerfile (production dependencies only; .dockerignore keeps the rest out).
      image: ecs.ContainerImage.fromAsset(REPO_ROOT, { file: "Dockerfile", platform: Platform.LINUX_AMD64 }),
      command: ["worker"],
      // The image's unprivileged user (Dockerfile: USER node), stated here so the task definition does not depend on it.
      user: "node",
      readonlyRootFilesystem: true,
      environment: { ...o.environment, LABELQ_HTTP_PORT: String(port) },
      // ECS reads the token from Secrets Manager as the task starts (with the execution role): it is never in the task definition.
      secrets: this.redisAuth ? { [REDIS_AUTH_TOKEN_ENV]: ecs.Secret.fromSecretsManager(this.redisAuth, REDIS_AUTH_TOKEN_FIELD) } : undefined,
      logging: ecs.LogDrivers.awsLogs({ logGroup: o.logGroup, streamPrefix: "worker" }),
      stopTimeout: Duration.seconds(stopTimeoutS),
      // The image has node but no curl: probe /healthz (liveness: the poll loop is alive) with fetch.
      healthCheck: {
        command: ["CMD", "node", "-e", `fetch("http://127.0.0.1:${port}/healthz").then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`],
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
    });
    container.addMountPoints({ containerPath: "/tmp", sourceVolume: "tmp", readOnly: false });
    Validations.of(taskDefinition).acknowledge({
      id: "AwsSolutions-ECS2",
      reason:
        "The environment holds only queue URLs, table and bucket names, role ARNs, the limiter's address and tuning figures, all of which are also in the stack's outputs or template; the one secret, the Redis AUTH token, is passed as an ECS secret from Secrets Manager.",
    });
    // The execution role CDK creates pulls the image and writes the awslogs stream.
    const executionPolicy = taskDefinition.obtainExecutionRole().node.tryFindChild("DefaultPolicy");
    if (executionPolicy) {
      Validations.of(executionPolicy).acknowledge({
        id: "AwsSolutions-IAM5[Resource::*]",
        reason: "ecr:GetAuthorizationToken has no resource-level permissions (Resource must be *); the image pull and log actions beside it are scoped to the repository and the log group.",
      });
    }
    const service = new ecs.FargateService(this, "WorkerService", {
      cluster,
      taskDefinition,
      desiredCount: o.minTasks,
      securityGroups: [o.workerSg],
      vpcSubnets: o.subnets,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { rollback: true },
    });

    // Target tracking on backlog per task: no CPU policy to fight it (aws-cdk#20706), no
    // absolute-backlog steps (with minTasks 0, one step policy that only leaves zero). The L2
    // policy accepts only a single metric, so the metric-math form is written as the L1
    // resource; the shape follows the Application Auto Scaling guide's example "target
    // tracking scaling policy using metric math".
    const target = new appscaling.ScalableTarget(this, "WorkerScaling", {
      serviceNamespace: appscaling.ServiceNamespace.ECS,
      resourceId: `service/${cluster.clusterName}/${service.serviceName}`,
      scalableDimension: "ecs:service:DesiredCount",
      minCapacity: o.minTasks,
      maxCapacity: this.maxTasks,
      // ECS scaling's service-linked role (as FargateService.autoScaleTaskCount uses), not an empty new role.
      role: iam.Role.fromRoleArn(
        this,
        "WorkerScalingRole",
        this.formatArn({
          region: "",
          service: "iam",
          resource: "role/aws-service-role/ecs.application-autoscaling.amazonaws.com",
          resourceName: "AWSServiceRoleForApplicationAutoScaling_ECSService",
        }),
      ),
    });
    new appscaling.CfnScalingPolicy(this, "BacklogPerTaskPolicy", {
      policyName: "labelq-backlog-per-task",
      policyType: "TargetTrackingScaling",
      scalingTargetId: target.scalableTargetId,
      targetTrackingScalingPolicyConfiguration: {
        targetValue: this.backlogTarget,
        scaleOutCooldown: 60,
        // Scale in slowly: a task that stops returns its in-flight batches to the queue.
        scaleInCooldown: 300,
        customizedMetricSpecification: {
          metrics: [
            {
              id: "visible",
              metricStat: {
                metric: { namespace: "AWS/SQS", metricName: "ApproximateNumberOfMessagesVisible", dimensions: [{ name: "QueueName", value: this.requests.queueName }] },
                stat: "Sum",
              },
              returnData: false,
            },
            {
              id: "tasks",
              metricStat: {
                metric: {
                  namespace: "ECS/ContainerInsights",
                  metricName: "RunningTaskCount",
                  dimensions: [
                    { name: "ClusterName", value: cluster.clusterName },
                    { name: "ServiceName", value: service.serviceName },
                  ],
                },
                stat: "Average",
              },
              returnData: false,
            },
            { id: "backlogPerTask", expression: "visible / tasks", label: "visible messages per running task", returnData: true },
          ],
        },
      },
    });
    if (o.minTasks === 0) this.#scaleFromZero(target);
  }

  /**
   * Leaves zero tasks when requests wait: at 0 tasks backlog per task has no data (no
   * RunningTaskCount to divide by), so target tracking never acts. This step policy adds one
   * task when messages are visible while none is in flight, which is the state of a queue that
   * no worker receives from; a running worker takes messages in flight within a long poll, so
   * above zero the step stays quiet and target tracking alone sizes the fleet. It only ever
   * adds (no lower alarm), so it cannot scale in against target tracking.
   */
  #scaleFromZero(target: appscaling.ScalableTarget): void {
    const minute = Duration.minutes(1);
    const waitingUnreceived = new cloudwatch.MathExpression({
      expression: "IF(inflight == 0, visible, 0)",
      usingMetrics: {
        visible: this.requests.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: "Maximum" }),
        inflight: this.requests.metricApproximateNumberOfMessagesNotVisible({ period: minute, statistic: "Maximum" }),
      },
      label: "visible requests that no worker is receiving",
      period: minute,
    });
    target.scaleOnMetric("ScaleFromZero", {
      metric: waitingUnreceived,
      adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      // Below one waiting message: no alarm, no action. From one: one task.
      scalingSteps: [
        { upper: 1, change: 0 },
        { lower: 1, change: 1 },
      ],
      // Two minutes of waiting messages, not one: SQS's figures are approximate and a send can race a receive.
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      // A Fargate task takes a minute or two to pull its image and start polling.
      cooldown: Duration.minutes(5),
      metricAggregationType: appscaling.MetricAggregationType.MAXIMUM,
    });
  }

  #lambdaWorker(o: {
    vpc: ec2.IVpc;
    subnets: ec2.SubnetSelection;
    workerSg: ec2.SecurityGroup;
    logGroup: logs.LogGroup;
    environment: Record<string, string>;
    role: iam.Role;
    timeoutS: number;
    maxInFlight: number | undefined;
    props: LabelqStackProps;
  }): void {
    // What AWSLambdaVPCAccessExecutionRole grants, written out: the network interfaces of a
    // function in a VPC, and its own log group only (the managed policy allows every log group).
    const lambdaPolicy = new iam.Policy(this, "FunctionVpcAndLogs", {
      roles: [o.role],
      statements: [
        new iam.PolicyStatement({
          sid: "FunctionNetworkInterfaces",
          actions: ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
          resources: ["*"],
        }),
        new iam.PolicyStatement({ sid: "FunctionLogs", actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resources: [o.logGroup.logGroupArn] }),
      ],
    });
    Validations.of(lambdaPolicy).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason:
        "Lambda manages the function's network interfaces with the function's role; the EC2 network-interface actions Lambda documents for a function in a VPC (as in AWSLambdaVPCAccessExecutionRole) take Resource *.",
    });
    const batchSize = o.props.lambda?.batchSize ?? 1;
    // Concurrent invocations the quota keeps busy: batches in flight / messages per invocation.
    const [lo, hi] = LAMBDA_MAX_CONCURRENCY_RANGE;
    const wanted = Math.ceil((o.maxInFlight ?? hi * batchSize) / batchSize);
    const maxConcurrency = Math.min(hi, Math.max(lo, wanted));
    const fn = new lambda.DockerImageFunction(this, "WorkerFunction", {
      description: "labelq worker (Lambda mode): the same message handler as the ECS worker",
      code: lambda.DockerImageCode.fromImageAsset(REPO_ROOT, { file: "deploy/cdk/lambda.Dockerfile", platform: Platform.LINUX_AMD64 }),
      architecture: lambda.Architecture.X86_64,
      timeout: Duration.seconds(o.timeoutS),
      memorySize: o.props.lambda?.memoryMiB ?? 1024,
      role: o.role,
      vpc: o.vpc,
      vpcSubnets: o.subnets,
      securityGroups: [o.workerSg],
      logGroup: o.logGroup,
      // Lambda sets AWS_REGION itself (and refuses it here).
      environment: { ...withoutRegion(o.environment), ...this.#lambdaRedisAuth(), LABELQ_EXPECTED_WORKERS: String(maxConcurrency) },
      environmentEncryption: this.dataKey,
    });
    fn.addEventSource(new SqsEventSource(this.requests, { batchSize, maxConcurrency, reportBatchItemFailures: true }));
  }

  /**
   * Lambda has no secret injection like ECS's: the token goes in as a dynamic reference that
   * CloudFormation resolves when it deploys the function. The template holds only the reference;
   * the function's configuration holds the value, encrypted at rest (with the data key when one is
   * set) and readable by whoever may call lambda:GetFunctionConfiguration.
   */
  #lambdaRedisAuth(): Record<string, string> {
    return this.redisAuth ? { [REDIS_AUTH_TOKEN_ENV]: this.redisAuth.secretValueFromJson(REDIS_AUTH_TOKEN_FIELD).unsafeUnwrap() } : {};
  }

  /** cdk-nag prints an ARN's tokens as <AWS::Region>, <AWS::AccountId> and <LogicalId.Arn>: the acknowledgements name them the same way. */
  #nagArn(kind: "region" | "account" | CfnElement): string {
    if (kind === "region") return Token.isUnresolved(this.region) ? "<AWS::Region>" : this.region;
    if (kind === "account") return Token.isUnresolved(this.account) ? "<AWS::AccountId>" : this.account;
    return `<${this.getLogicalId(kind)}.Arn>`;
  }

  /**
   * The wildcards the worker's policy keeps on purpose, acknowledged one finding at a time with
   * the reason (AwsSolutions-IAM5[Resource::<arn as cdk-nag prints it>]). Its tables and models
   * are named, without wildcards.
   */
  #acknowledgeWorkerPolicyWildcards(role: iam.Role, o: { prefix: string; bulk?: BulkStorage; bulkPrefix: string }): void {
    const region = this.#nagArn("region");
    const account = this.#nagArn("account");
    const reasons: [string, string][] = [
      [
        `arn:aws:sqs:${region}:${account}:${o.prefix}-results*`,
        "Results go to the default results queue and to any per-producer results queue a request names in replyTo (LABELQ_REPLY_TO_ALLOWLIST); the pattern admits only queues named with the stack's results prefix.",
      ],
    ];
    if (o.bulk) {
      reasons.push(
        [
          "*",
          "bedrock:ListModelInvocationJobs only (statement FindBulkJobsByName): the action has no resource type in the Service Authorization Reference, so it takes no narrower resource. It lists job names and statuses, and labelq calls it to adopt by name a job it created before a crash.",
        ],
        [
          `arn:aws:bedrock:${region}:${account}:model-invocation-job/*`,
          "Bedrock names each batch inference job at CreateModelInvocationJob; the worker must read and stop jobs whose ids it cannot know in advance, and only in this account and Region.",
        ],
        [
          `${this.#nagArn(o.bulk.bucket.node.defaultChild as CfnElement)}/${o.bulkPrefix}*`,
          "Bulk job input and output objects are keyed by job id under the bulk prefix of the stack's own bulk bucket.",
        ],
      );
    }
    for (const [arn, reason] of reasons) Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${arn}]`, reason });
  }

  /** The bulk service role reads and writes objects keyed by job under the jobs folder of its one bucket. */
  #acknowledgeBatchRole(bulk: BulkStorage, bulkPrefix: string): void {
    Validations.of(bulk.batchRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${this.#nagArn(bulk.bucket.node.defaultChild as CfnElement)}/${bulkPrefix}${BULK_JOBS_FOLDER}*]`,
      reason: "A job reads its input and writes its output under its own folder (named by job) in the jobs folder of the stack's bulk bucket; Bedrock adds the job id to the output path.",
    });
  }

  #alarms(logGroup: logs.LogGroup, props: LabelqStackProps, modelId: string): void {
    const action = new cwActions.SnsAction(this.alarmTopic);
    const alarm = (aid: string, a: cloudwatch.AlarmProps) => new cloudwatch.Alarm(this, aid, a).addAlarmAction(action);
    const minute = Duration.minutes(1);

    alarm("DeadLettersAlarm", {
      alarmDescription: "labelq: requests in the dead-letter queue (inspect with `labelq dlq inspect`)",
      metric: this.dlq.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: "Maximum" }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm("OldestRequestAlarm", {
      alarmDescription: "labelq: the oldest request waits longer than allowed",
      metric: this.requests.metricApproximateAgeOfOldestMessage({ period: minute, statistic: "Maximum" }),
      threshold: props.oldestMessageAlarmS ?? 2 * props.acceptableLatencyS,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // Bedrock's own metrics (AWS/Bedrock, per ModelId). Invocations excludes throttled calls,
    // so the share is throttles / (invocations + throttles).
    const bedrock = (metricName: string) =>
      new cloudwatch.Metric({ namespace: "AWS/Bedrock", metricName, dimensionsMap: { ModelId: modelId }, statistic: "Sum", period: Duration.minutes(5) });
    alarm("ThrottledShareAlarm", {
      alarmDescription: `labelq: share of Bedrock calls to ${modelId} throttled (the fleet is larger than the quota feeds, or the quota is shared)`,
      metric: new cloudwatch.MathExpression({
        expression: "IF(invocations + throttles > 0, throttles / (invocations + throttles), 0)",
        usingMetrics: { invocations: bedrock("Invocations"), throttles: bedrock("InvocationThrottles") },
        label: "throttled share",
        period: Duration.minutes(5),
      }),
      threshold: props.throttledShareAlarm ?? 0.05,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // labelq's "batch labelled" log line carries items and errors (texts without valid labels).
    const fromLog = (fid: string, metricName: string, field: string) =>
      new logs.MetricFilter(this, fid, {
        logGroup,
        filterPattern: logs.FilterPattern.stringValue("$.msg", "=", "batch labelled"),
        metricNamespace: "labelq",
        metricName,
        metricValue: `$.${field}`,
        defaultValue: 0,
      }).metric({ statistic: "Sum", period: Duration.minutes(5) });
    const texts = fromLog("TextsMetric", "Texts", "items");
    const textErrors = fromLog("TextErrorsMetric", "TextErrors", "errors");
    alarm("ErrorShareAlarm", {
      alarmDescription: "labelq: share of texts that ended without valid labels",
      metric: new cloudwatch.MathExpression({
        expression: "IF(texts > 0, errors / texts, 0)",
        usingMetrics: { texts, errors: textErrors },
        label: "text error share",
        period: Duration.minutes(5),
      }),
      threshold: props.errorShareAlarm ?? 0.02,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}

function withoutRegion(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => k !== "AWS_REGION"));
}

/**
 * Quota tokens each output token of the default model burns (the catalogue's burn-down: Claude
 * 4.x 5), for the fleet's quota cap. A burn-down above 1 needs the batch's output tokens, so
 * the cap counts them at that rate rather than at face value.
 */
function burnDownOf(props: LabelqStackProps, configuredDefault: string): number {
  const alias = props.environment?.LABELQ_DEFAULT_MODEL ?? configuredDefault;
  const burnDown = findModel(alias)?.outputBurnDown ?? 1;
  if (burnDown > 1 && props.batch.outputTokensPerBatch === undefined) {
    throw new Error(
      `outputTokensPerBatch: ${alias} burns ${burnDown} quota tokens per output token, so the quota cap needs the output part of tokensPerBatch (labelq estimate --deadline prints it)`,
    );
  }
  return burnDown;
}
