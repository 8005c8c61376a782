import { Arn, ArnFormat, RemovalPolicy, Stack, Token } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import type { Construct } from "constructs";

/** The `kms` setting: "create" a key in the stack, or use an existing one by its ARN (arn:aws:kms:...). */
export type KmsSetting = "create" | `arn:${string}`;

/**
 * The customer-managed key labelq's data is encrypted with (queues, tables, the bulk bucket, log
 * groups, the alarm topic, the Redis AUTH secret), or undefined for AWS-managed keys.
 *
 * A created key rotates yearly and stays when the stack is deleted (the retained tables need it).
 * Its policy lets the account's IAM policies grant it (CDK's default key policy), and adds the two
 * services that use it on their own behalf:
 * - CloudWatch Logs, for the log groups ("Encrypt log data in CloudWatch Logs using AWS Key
 *   Management Service", https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html);
 * - CloudWatch alarms, to publish to the encrypted alarm topic ("Enable compatibility between
 *   event sources from AWS services and encrypted topics",
 *   https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
 * An existing key's policy is its owner's: it needs the same two statements (docs/deploy.md).
 */
export function dataKey(scope: Construct, setting: KmsSetting | undefined): kms.IKey | undefined {
  if (setting === undefined) return undefined;
  const stack = Stack.of(scope);
  if (setting !== "create") {
    const keyRegion = Arn.split(setting, ArnFormat.SLASH_RESOURCE_NAME).region;
    if (!Token.isUnresolved(stack.region) && keyRegion !== stack.region) {
      throw new Error(`kms=${setting}: the key is in ${keyRegion}, the stack in ${stack.region}; a KMS key serves its own Region only`);
    }
    return kms.Key.fromKeyArn(scope, "DataKey", setting);
  }
  const key = new kms.Key(scope, "DataKey", {
    description: "labelq data: queues, tables, bulk bucket, log groups, alarm topic, Redis AUTH secret",
    enableKeyRotation: true,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: "CloudWatchLogsUsesKeyForThisAccountsLogGroups",
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
      resources: ["*"],
      conditions: { ArnLike: { "kms:EncryptionContext:aws:logs:arn": `arn:aws:logs:${stack.region}:${stack.account}:log-group:*` } },
    }),
  );
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: "CloudWatchAlarmsPublishToEncryptedTopic",
      principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
      actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
      resources: ["*"],
      conditions: {
        StringEquals: { "aws:SourceAccount": stack.account },
        ArnLike: { "aws:SourceArn": `arn:aws:cloudwatch:${stack.region}:${stack.account}:alarm:*` },
      },
    }),
  );
  return key;
}
