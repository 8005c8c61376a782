import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { LabelqStack, type LabelqStackProps, REDIS_AUTH_TOKEN_ENV } from "../../deploy/cdk/labelq-stack.ts";

const BASE: LabelqStackProps = {
  env: { account: "123456789012", region: "us-east-1" },
  quota: { rpm: 200, tpm: 600_000 },
  batch: { callsPerBatch: 1, tokensPerBatch: 12_000, secondsPerBatch: 40 },
  acceptableLatencyS: 600,
};
const synth = (props: Partial<LabelqStackProps> = {}) => Template.fromStack(new LabelqStack(new App(), "Auth", { ...BASE, ...props }));

function only(template: Template, type: string): string {
  const ids = Object.keys(template.findResources(type));
  expect(ids).toHaveLength(1);
  return ids[0]!;
}
/** CloudFormation's dynamic reference to the token field of the secret. */
const tokenReference = (secretId: string) => ({ "Fn::Join": ["", ["{{resolve:secretsmanager:", { Ref: secretId }, ":SecretString:token::}}"]] });

interface Container {
  Environment: { Name: string; Value: unknown }[];
  Secrets?: { Name: string; ValueFrom: unknown }[];
}

describe("Redis AUTH on the limiter's Valkey", () => {
  const template = synth();
  const secretId = only(template, "AWS::SecretsManager::Secret");

  it("generates a 64-character token of letters and digits into a secret the stack creates, and gives it to the replication group by reference", () => {
    template.hasResourceProperties("AWS::SecretsManager::Secret", {
      GenerateSecretString: { SecretStringTemplate: "{}", GenerateStringKey: "token", PasswordLength: 64, ExcludePunctuation: true },
    });
    template.hasResourceProperties("AWS::ElastiCache::ReplicationGroup", { AuthToken: tokenReference(secretId), TransitEncryptionEnabled: true });
  });

  it("injects the token into the ECS container as a secret from Secrets Manager, never as a plain environment value", () => {
    const task = Object.values(template.findResources("AWS::ECS::TaskDefinition"))[0] as { Properties: { ContainerDefinitions: Container[]; ExecutionRoleArn: { "Fn::GetAtt": [string, string] } } };
    const container = task.Properties.ContainerDefinitions[0]!;
    expect(container.Secrets).toEqual([{ Name: REDIS_AUTH_TOKEN_ENV, ValueFrom: { "Fn::Join": ["", [{ Ref: secretId }, ":token::"]] } }]);
    expect(container.Environment.map((e) => e.Name)).not.toContain(REDIS_AUTH_TOKEN_ENV);
    // The execution role (which ECS fetches secrets with) may read that secret; the task role is not touched.
    const executionRole = task.Properties.ExecutionRoleArn["Fn::GetAtt"][0];
    template.hasResourceProperties("AWS::IAM::Policy", {
      Roles: [{ Ref: executionRole }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], Resource: { Ref: secretId } })]) },
    });
    // Nothing in the template holds a token value: only references to the secret.
    expect(JSON.stringify(template.toJSON())).not.toMatch(/"LABELQ_REDIS_AUTH_TOKEN","Value":"[^{]/);
  });

  it("reaches Secrets Manager through an interface endpoint (the subnets have no other way out)", () => {
    template.hasResourceProperties("AWS::EC2::VPCEndpoint", { VpcEndpointType: "Interface", ServiceName: "com.amazonaws.us-east-1.secretsmanager", PrivateDnsEnabled: true });
  });

  it("gives the Lambda worker the token as a dynamic reference that CloudFormation resolves, not a value in the template", () => {
    const lambda = synth({ compute: "lambda" });
    const fn = Object.values(lambda.findResources("AWS::Lambda::Function"))[0] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
    expect(fn.Properties.Environment.Variables[REDIS_AUTH_TOKEN_ENV]).toEqual(tokenReference(only(lambda, "AWS::SecretsManager::Secret")));
  });

  it("creates no secret and injects none when the stack is given a Redis", () => {
    const external = synth({ redisUrl: "rediss://limiter.example:6379" });
    external.resourceCountIs("AWS::SecretsManager::Secret", 0);
    external.resourceCountIs("AWS::ElastiCache::ReplicationGroup", 0);
    external.hasResourceProperties("AWS::ECS::TaskDefinition", { ContainerDefinitions: [Match.objectLike({ Secrets: Match.absent() })] });
  });
});
