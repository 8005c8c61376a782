import { Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { readFileSync } from "node:fs";
import type { BedrockGrants } from "./bedrock-grants.ts";
import { BATCH_ROLE_TRUST_FILE, batchRolePolicy, BULK_JOBS_FOLDER } from "./worker-policy.ts";

/**
 * The longest a bulk job's files must live: a job runs at most LABELQ_BULK_JOB_TIMEOUT_H (168 h,
 * 7 days, Bedrock's timeoutDurationInHours maximum) after submission, and its output is collected
 * on the next pass of the bulk loop. A shorter expiry could delete the input of a running job.
 */
export const MIN_BULK_RETENTION_DAYS = 8;
/** How long the bulk bucket's server access logs are kept. */
const ACCESS_LOG_DAYS = 365;

export interface BulkStorageProps {
  /** LABELQ_BULK_PREFIX: the bulk path's objects are all under it. */
  objectPrefix: string;
  /** Days after which a job's input and output files are deleted. */
  retentionDays: number;
  /** What a job may run (the batch models' ARNs). */
  models: BedrockGrants;
  /** The customer-managed key; default S3-managed keys (SSE-S3). */
  key?: kms.IKey;
}

/**
 * The bulk path's storage: the bucket for job input and output, its server access log bucket,
 * and the service role Bedrock assumes to run a job (LABELQ_BULK_ROLE_ARN).
 *
 * The bucket blocks all public access, refuses requests without TLS (enforceSSL), is encrypted
 * with the key (SSE-KMS with an S3 Bucket Key, which cuts KMS calls) or S3-managed keys, and
 * deletes job files `retentionDays` after they are written. A lifecycle filter selects by key
 * prefix, tags or size, not by a pattern inside the key; labelq writes `<prefix>jobs/<job>/input/`
 * and `<prefix>jobs/<job>/output/` (src/app/bulk/assemble-jobs.ts) untagged, so one rule on
 * `<prefix>jobs/` expires both. Versioning is off:
 * the files are rebuilt from the bulk table's records, and an expired version would otherwise stay.
 */
export class BulkStorage extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogs: s3.Bucket;
  readonly batchRole: iam.Role;

  constructor(scope: Construct, id: string, props: BulkStorageProps) {
    super(scope, id);
    if (props.retentionDays < MIN_BULK_RETENTION_DAYS) {
      throw new Error(`bulk retention of ${props.retentionDays} days: at least ${MIN_BULK_RETENTION_DAYS} (a job may run 7 days, and its files must outlive it)`);
    }
    const stack = Stack.of(this);
    // Server access logs go to a bucket of their own, with S3-managed keys: they record requests
    // (object keys, requesters, times), not the texts, and need no grant on the data key.
    this.accessLogs = new s3.Bucket(this, "AccessLogs", {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      lifecycleRules: [{ id: "expire-access-logs", expiration: Duration.days(ACCESS_LOG_DAYS) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.accessLogs).acknowledge({
      id: "AwsSolutions-S1",
      reason: "This is the server access log bucket of the bulk bucket; logging its own log deliveries would only log log writes.",
    });
    this.bucket = new s3.Bucket(this, "Bucket", {
      encryption: props.key ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      encryptionKey: props.key,
      bucketKeyEnabled: props.key ? true : undefined,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: false,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: "bulk-bucket/",
      lifecycleRules: [
        {
          id: "expire-job-files",
          prefix: `${props.objectPrefix}${BULK_JOBS_FOLDER}`,
          expiration: Duration.days(props.retentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      // Job files hold texts: deleting the stack leaves them to the lifecycle rule, not to a forced delete.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // deploy/iam/bedrock-batch-role-trust.json: Bedrock, for this account's jobs in this Region only (the confused-deputy guard).
    const trust = JSON.parse(readFileSync(BATCH_ROLE_TRUST_FILE, "utf8")) as { Statement: { Condition: Record<string, Record<string, string>> }[] };
    const fill = (conditions: Record<string, Record<string, string>>) =>
      Object.fromEntries(
        Object.entries(conditions).map(([op, kv]) => [op, Object.fromEntries(Object.entries(kv).map(([k, v]) => [k, v.replaceAll("REGION", stack.region).replaceAll("ACCOUNT_ID", stack.account)]))]),
      );
    this.batchRole = new iam.Role(this, "BatchRole", {
      assumedBy: new iam.ServicePrincipal("bedrock.amazonaws.com").withConditions(fill(trust.Statement[0]!.Condition)),
      description: "Bedrock runs labelq's bulk jobs as this role: deploy/iam/bedrock-batch-role-policy.json",
      inlinePolicies: {
        "labelq-bedrock-batch": iam.PolicyDocument.fromJson(
          batchRolePolicy({ bucketArn: this.bucket.bucketArn, objectPrefix: props.objectPrefix, models: props.models, kmsKeyArn: props.key?.keyArn }),
        ),
      },
    });
  }
}
