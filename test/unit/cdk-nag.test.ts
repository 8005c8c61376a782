import { App, Stack } from "aws-cdk-lib";
import { Topic } from "aws-cdk-lib/aws-sns";
import { Match, Template } from "aws-cdk-lib/assertions";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { INTERFACE_ENDPOINTS, LabelqStack, type LabelqStackProps, REDIS_PORT } from "../../deploy/cdk/labelq-stack.ts";
import { NAG_RESIDENCIES, NAG_VARIANTS, nagCases, nagFindings, synthVariant } from "../../deploy/cdk/nag.ts";

const PROPS: LabelqStackProps = {
  env: { account: "123456789012", region: "us-east-1" },
  quota: { rpm: 200, tpm: 600_000 },
  batch: { callsPerBatch: 1, tokensPerBatch: 12_000, secondsPerBatch: 40 },
  acceptableLatencyS: 600,
};
const template = Template.fromStack(new LabelqStack(new App(), "Net", PROPS));
const ref = (prefix: string) => ({ "Fn::GetAtt": [Match.stringLikeRegexp(`^${prefix}`), "GroupId"] });

describe("LabelqStack: the network keeps texts inside the VPC", () => {
  it("has isolated subnets only: no internet gateway, no NAT gateway", () => {
    template.resourceCountIs("AWS::EC2::InternetGateway", 0);
    template.resourceCountIs("AWS::EC2::NatGateway", 0);
    template.resourceCountIs("AWS::EC2::Subnet", 2);
  });

  it("logs every flow of the VPC to CloudWatch Logs", () => {
    template.hasResourceProperties("AWS::EC2::FlowLog", {
      ResourceType: "VPC",
      ResourceId: { Ref: Match.stringLikeRegexp("^Vpc") },
      TrafficType: "ALL",
      LogDestinationType: "cloud-watch-logs",
      LogGroupName: { Ref: Match.stringLikeRegexp("^VpcFlowLogs") },
    });
  });

  it("has gateway endpoints for S3 and DynamoDB and private-DNS interface endpoints for every other service the worker calls", () => {
    for (const service of ["s3", "dynamodb"]) {
      template.hasResourceProperties("AWS::EC2::VPCEndpoint", {
        VpcEndpointType: "Gateway",
        ServiceName: { "Fn::Join": ["", ["com.amazonaws.", { Ref: "AWS::Region" }, `.${service}`]] },
      });
    }
    expect([...INTERFACE_ENDPOINTS].sort()).toEqual(["bedrock", "bedrock-runtime", "ecr.api", "ecr.dkr", "logs", "monitoring", "secretsmanager", "sqs", "sts"]);
    for (const service of INTERFACE_ENDPOINTS) {
      template.hasResourceProperties("AWS::EC2::VPCEndpoint", {
        VpcEndpointType: "Interface",
        PrivateDnsEnabled: true,
        ServiceName: `com.amazonaws.us-east-1.${service}`,
        SecurityGroupIds: [ref("EndpointSecurityGroup")],
      });
    }
    template.resourceCountIs("AWS::EC2::VPCEndpoint", INTERFACE_ENDPOINTS.length + 2);
  });

  it("lets the workers out on HTTPS and to the limiter's Redis only, and the endpoints and Redis in from the workers only", () => {
    const worker = Object.values(template.findResources("AWS::EC2::SecurityGroup", { Properties: { GroupDescription: Match.stringLikeRegexp("^labelq workers") } }));
    expect(worker).toHaveLength(1);
    expect((worker[0] as { Properties: { SecurityGroupEgress: unknown[] } }).Properties.SecurityGroupEgress).toEqual([
      { CidrIp: "0.0.0.0/0", Description: expect.stringContaining("HTTPS") as unknown, FromPort: 443, IpProtocol: "tcp", ToPort: 443 },
    ]);
    template.hasResourceProperties("AWS::EC2::SecurityGroupEgress", {
      GroupId: ref("WorkerSecurityGroup"),
      DestinationSecurityGroupId: ref("RedisSecurityGroup"),
      FromPort: REDIS_PORT,
      ToPort: REDIS_PORT,
      IpProtocol: "tcp",
    });
    template.resourceCountIs("AWS::EC2::SecurityGroupEgress", 1);
    template.hasResourceProperties("AWS::EC2::SecurityGroupIngress", { GroupId: ref("EndpointSecurityGroup"), SourceSecurityGroupId: ref("WorkerSecurityGroup"), FromPort: 443, ToPort: 443 });
    template.hasResourceProperties("AWS::EC2::SecurityGroupIngress", { GroupId: ref("RedisSecurityGroup"), SourceSecurityGroupId: ref("WorkerSecurityGroup"), FromPort: REDIS_PORT });
    template.resourceCountIs("AWS::EC2::SecurityGroupIngress", 2);
  });

  it("runs the ECS worker as the image's non-root user on a read-only root filesystem with a task-local /tmp", () => {
    template.hasResourceProperties("AWS::ECS::TaskDefinition", {
      Volumes: [{ Name: "tmp" }],
      ContainerDefinitions: [Match.objectLike({ User: "node", ReadonlyRootFilesystem: true, MountPoints: [{ ContainerPath: "/tmp", SourceVolume: "tmp", ReadOnly: false }] })],
    });
  });

  it("requires TLS to publish to the alarm topic", () => {
    template.hasResourceProperties("AWS::SNS::TopicPolicy", {
      PolicyDocument: { Statement: [Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } })] },
    });
  });
});

describe("cdk-nag AwsSolutions on every variant under every residency (npm run deploy:nag)", () => {
  const outdir = mkdtempSync(path.join(tmpdir(), "labelq-nag-test-"));
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it("covers ECS, Lambda and FIFO, with and without a customer-managed key and the bulk path, under region, geography and global", () => {
    expect(Object.keys(NAG_VARIANTS)).toEqual(["ecs", "lambda", "fifo", "ecs-kms-bulk", "lambda-kms"]);
    expect(Object.keys(NAG_RESIDENCIES)).toEqual(["region", "geography", "global"]);
    expect(nagCases()).toHaveLength(15);
  });

  it.each(nagCases())("%s: no errors and no warnings", (name, variant) => {
    const findings = nagFindings(synthVariant(variant, path.join(outdir, name.replace("/", "-"))));
    expect(findings.map((f) => `${f.rule} ${f.path}`)).toEqual([]);
  });

  it("finds what the pack checks: a topic without enforceSSL is an error", () => {
    const stack = new Stack(new App(), "Probe");
    new Topic(stack, "OpenTopic");
    expect(nagFindings(stack).map((f) => `${f.severity} ${f.rule}`)).toContain("error AwsSolutions-SNS3");
  });
});
