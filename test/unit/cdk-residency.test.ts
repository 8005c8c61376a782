import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { GEOGRAPHY_REGIONS } from "../../deploy/cdk/bedrock-grants.ts";
import { stackPropsFromContext } from "../../deploy/cdk/context.ts";
import { LabelqStack, type LabelqStackProps } from "../../deploy/cdk/labelq-stack.ts";
import { PACKAGED_CATALOGUE, readCatalogueFile } from "../../src/core/models/model-catalogue.ts";

const ENV = { account: "123456789012", region: "us-east-1" };
const BASE: LabelqStackProps = {
  env: ENV,
  quota: { rpm: 200, tpm: 600_000 },
  batch: { callsPerBatch: 1, tokensPerBatch: 12_000, secondsPerBatch: 40 },
  acceptableLatencyS: 600,
};
/** Models with an in-Region id, which LABELQ_RESIDENCY=region needs. */
const IN_REGION_MODELS = { LABELQ_DEFAULT_MODEL: "nova-lite", LABELQ_FALLBACK_MODELS: "nova-micro" };

const synth = (props: Partial<LabelqStackProps> = {}) => Template.fromStack(new LabelqStack(new App(), "Residency", { ...BASE, ...props }));
const fm = (region: string, id: string) => `arn:aws:bedrock:${region}::foundation-model/${id}`;
const profile = (id: string) => `arn:aws:bedrock:${ENV.region}:${ENV.account}:inference-profile/${id}`;

interface Statement {
  Sid: string;
  Resource: string | string[];
  Condition?: unknown;
}

/** The statements of a role's inline policy, by Sid: the worker's (ECS task role) or Bedrock's bulk service role. */
function statements(template: Template, service: string): Record<string, Statement> {
  const roles = template.findResources("AWS::IAM::Role", { Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: service } })] } } });
  const role = Object.values(roles).find((r) => (r as { Properties: { Policies?: unknown } }).Properties.Policies) as { Properties: { Policies: { PolicyDocument: { Statement: Statement[] } }[] } };
  return Object.fromEntries(role.Properties.Policies[0]!.PolicyDocument.Statement.map((s) => [s.Sid, s]));
}
const list = (r: string | string[] | undefined) => (r === undefined ? [] : Array.isArray(r) ? r : [r]);
/** Every Bedrock model or profile ARN a role's statements name. */
const bedrockArns = (s: Record<string, Statement>) =>
  Object.values(s)
    .flatMap((st) => list(st.Resource))
    .filter((arn) => typeof arn === "string" && (arn.includes(":foundation-model/") || arn.includes(":inference-profile/")));
const workerEnv = (template: Template) =>
  Object.fromEntries(
    (Object.values(template.findResources("AWS::ECS::TaskDefinition"))[0] as { Properties: { ContainerDefinitions: { Environment: { Name: string; Value: unknown }[] }[] } }).Properties.ContainerDefinitions[0]!.Environment.map((e) => [e.Name, e.Value]),
  );

describe("a deployed student in the CDK stack", () => {
  it("grants the worker its deployment's ARN when LABELQ_MODEL_ROUTES routes to it, and nothing for it otherwise", () => {
    const arn = `arn:aws:bedrock:${ENV.region}:${ENV.account}:custom-model-deployment/abc123def456`;
    const packaged = readCatalogueFile(PACKAGED_CATALOGUE).find((m) => m.alias === "nova-micro")!;
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "labelq-cdk-student-")), "catalogue.json");
    fs.writeFileSync(file, JSON.stringify({ models: [{ ...packaged, alias: "nova-micro-student", modelIds: { inRegion: arn } }] }));
    const routes = JSON.stringify({ "llama3.3-70b": { canary: { model: "nova-micro-student", share: 0.1 } } });
    const routed = statements(synth({ environment: { LABELQ_MODEL_CATALOGUE: file, LABELQ_MODEL_ROUTES: routes } }), "ecs-tasks.amazonaws.com");
    expect(list(routed.InvokeOnDemandModels?.Resource)).toContain(arn);
    const plain = statements(synth({ environment: { LABELQ_MODEL_CATALOGUE: file } }), "ecs-tasks.amazonaws.com");
    expect(Object.values(plain).flatMap((st) => list(st.Resource))).not.toContain(arn);
  });
});

describe("residency in the CDK stack: the worker's setting and its role's Bedrock grants agree", () => {
  it("region: in-Region foundation models in the stack's Region only, no inference profile, for the worker and the bulk service role", () => {
    const template = synth({ residency: "region", environment: IN_REGION_MODELS, bulk: {} });
    expect(workerEnv(template)).toMatchObject({ LABELQ_RESIDENCY: "region", LABELQ_DEFAULT_MODEL: "nova-lite", LABELQ_FALLBACK_MODELS: "nova-micro" });
    const worker = statements(template, "ecs-tasks.amazonaws.com");
    const inRegion = [fm(ENV.region, "amazon.nova-lite-v1:0"), fm(ENV.region, "amazon.nova-micro-v1:0")];
    expect(worker.InvokeOnDemandModels!.Resource).toEqual(inRegion);
    expect(worker.InvokeInferenceProfiles).toBeUndefined();
    expect(worker.InvokeProfileModelsOnlyThroughProfiles).toBeUndefined();
    expect(new Set(bedrockArns(worker))).toEqual(new Set(inRegion));
    const batch = statements(template, "bedrock.amazonaws.com");
    expect(batch.InvokeBatchModels!.Resource).toEqual(inRegion);
    // The throttling alarm watches the id the worker calls.
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Metrics: Match.arrayWith([Match.objectLike({ Id: "throttles", MetricStat: Match.objectLike({ Metric: Match.objectLike({ Dimensions: [{ Name: "ModelId", Value: "amazon.nova-lite-v1:0" }] }) }) })]),
    });
  });

  it("keeps the residency and geography to the stack's own settings, which the grants follow", () => {
    expect(() => synth({ environment: { LABELQ_RESIDENCY: "global" } })).toThrow(/environment\.LABELQ_RESIDENCY: set the stack's residency/);
  });

  it("region: refuses to synthesize with models that have no in-Region id, with the worker's own message", () => {
    expect(() => synth({ residency: "region" })).toThrow(/LABELQ_RESIDENCY=region keeps prompts in us-east-1.*llama3\.3-70b/);
  });

  it("geography (default): the geography's profiles, and their foundation models in its Regions only, only through the profiles", () => {
    const template = synth();
    expect(workerEnv(template)).toMatchObject({ LABELQ_RESIDENCY: "geography", LABELQ_MODEL_GEOGRAPHY: "us" });
    const worker = statements(template, "ecs-tasks.amazonaws.com");
    const profiles = [profile("us.meta.llama3-3-70b-instruct-v1:0"), profile("us.anthropic.claude-sonnet-4-5-20250929-v1:0")];
    expect(worker.InvokeInferenceProfiles!.Resource).toEqual(profiles);
    expect(worker.InvokeProfileModelsOnlyThroughProfiles!.Condition).toEqual({ StringEquals: { "bedrock:InferenceProfileArn": profiles } });
    const models = list(worker.InvokeProfileModelsOnlyThroughProfiles!.Resource);
    expect(models).toEqual(
      ["meta.llama3-3-70b-instruct-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0"].flatMap((id) => GEOGRAPHY_REGIONS.us.map((region) => fm(region, id))),
    );
    expect(worker.InvokeOnDemandModels).toBeUndefined();
    expect(bedrockArns(worker).filter((arn) => arn.includes("global.") || arn.includes("bedrock:::") || arn.includes("bedrock:*"))).toEqual([]);
  });

  it("geography from an EU Region: EU profiles and EU Regions", () => {
    // Claude burns 5 quota tokens per output token: the fleet cap needs the batch's output part.
    const template = synth({
      env: { ...ENV, region: "eu-west-1" },
      batch: { ...BASE.batch, outputTokensPerBatch: 2_000 },
      environment: { LABELQ_DEFAULT_MODEL: "claude-haiku", LABELQ_FALLBACK_MODELS: "nova-lite" },
    });
    expect(workerEnv(template)).toMatchObject({ LABELQ_MODEL_GEOGRAPHY: "eu" });
    const worker = statements(template, "ecs-tasks.amazonaws.com");
    expect(worker.InvokeInferenceProfiles!.Resource).toEqual(
      ["eu.anthropic.claude-haiku-4-5-20251001-v1:0", "eu.amazon.nova-lite-v1:0"].map((id) => `arn:aws:bedrock:eu-west-1:${ENV.account}:inference-profile/${id}`),
    );
    for (const arn of list(worker.InvokeProfileModelsOnlyThroughProfiles!.Resource)) expect(GEOGRAPHY_REGIONS.eu).toContain(arn.split(":")[3]);
  });

  it("global: global profiles with the in-Region and Region-less foundation model, and the geography's profile for a model without one", () => {
    const template = synth({ residency: "global" });
    expect(workerEnv(template)).toMatchObject({ LABELQ_RESIDENCY: "global" });
    const worker = statements(template, "ecs-tasks.amazonaws.com");
    expect(worker.InvokeInferenceProfiles!.Resource).toEqual([profile("us.meta.llama3-3-70b-instruct-v1:0"), profile("global.anthropic.claude-sonnet-4-5-20250929-v1:0")]);
    const models = list(worker.InvokeProfileModelsOnlyThroughProfiles!.Resource);
    expect(models).toEqual([
      ...GEOGRAPHY_REGIONS.us.map((region) => fm(region, "meta.llama3-3-70b-instruct-v1:0")),
      fm(ENV.region, "anthropic.claude-sonnet-4-5-20250929-v1:0"),
      fm("", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ]);
    expect(bedrockArns(worker).filter((arn) => arn.includes("us.anthropic"))).toEqual([]);
  });

  it("an environment-agnostic stack grants the US profiles and refuses, by a template rule, to deploy outside the US geography's Regions", () => {
    const stack = new LabelqStack(new App(), "Agnostic", { ...BASE, env: undefined });
    const template = Template.fromStack(stack);
    expect(workerEnv(template)).toMatchObject({ LABELQ_MODEL_GEOGRAPHY: "us" });
    const rules = (template.toJSON() as { Rules?: Record<string, { Assertions: { Assert: unknown }[] }> }).Rules ?? {};
    const rule = Object.entries(rules).find(([id]) => id.startsWith("RegionInModelGeography"));
    expect(rule?.[1].Assertions[0]!.Assert).toEqual({ "Fn::Contains": [[...GEOGRAPHY_REGIONS.us], { Ref: "AWS::Region" }] });
    // In-Region ids need no such rule: they are called in whatever Region the stack is.
    const inRegion = Template.fromStack(new LabelqStack(new App(), "AgnosticRegion", { ...BASE, env: undefined, residency: "region", environment: IN_REGION_MODELS }));
    expect(Object.keys((inRegion.toJSON() as { Rules?: object }).Rules ?? {}).filter((id) => id.startsWith("RegionInModelGeography"))).toEqual([]);
  });
});

describe("residency in the CDK context", () => {
  const base = { quotaRpm: 200, quotaTpm: 600_000, callsPerBatch: 1, tokensPerBatch: 12_000, secondsPerBatch: 40, acceptableLatencyS: 600 };
  it("defaults to geography and takes region, geography or global, with the models to run", () => {
    expect(stackPropsFromContext((k) => (base as Record<string, unknown>)[k]).props.residency).toBe("geography");
    const ctx: Record<string, unknown> = { ...base, residency: "region", defaultModel: "nova-lite", fallbackModels: "nova-micro", allowedModels: "nova-lite,nova-micro", modelGeography: "eu" };
    const { props } = stackPropsFromContext((k) => ctx[k]);
    expect(props.residency).toBe("region");
    expect(props.modelGeography).toBe("eu");
    expect(props.environment).toEqual({ LABELQ_DEFAULT_MODEL: "nova-lite", LABELQ_FALLBACK_MODELS: "nova-micro", LABELQ_ALLOWED_MODELS: "nova-lite,nova-micro" });
    const bad: Record<string, unknown> = { ...base, residency: "planet", modelGeography: "mars" };
    expect(() => stackPropsFromContext((k) => bad[k])).toThrow(/residency="planet"[\s\S]*modelGeography="mars"/);
  });
});
