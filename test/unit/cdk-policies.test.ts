import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { bedrockGrants, GEOGRAPHY_REGIONS, workerModels } from "../../deploy/cdk/bedrock-grants.ts";
import { BATCH_ROLE_POLICY_FILE, documentedPolicies, policyText, WORKER_POLICY_FILE } from "../../deploy/cdk/worker-policy.ts";
import { DEFAULTS } from "../../src/core/config/config.ts";
import { loadModelCatalogue } from "../../src/core/models/model-catalogue.ts";

const AT = { region: "eu-west-1", account: "123456789012" };
const fm = (region: string, id: string) => `arn:aws:bedrock:${region}::foundation-model/${id}`;
const profile = (id: string) => `arn:aws:bedrock:${AT.region}:${AT.account}:inference-profile/${id}`;

describe("deploy/iam: the documented policies are generated from the catalogue for the default settings", () => {
  it("worker-policy.json and bedrock-batch-role-policy.json are what `node deploy/cdk/worker-policy.ts --write` writes", () => {
    const { worker, batchRole } = documentedPolicies();
    expect(readFileSync(WORKER_POLICY_FILE, "utf8")).toBe(policyText(worker));
    expect(readFileSync(BATCH_ROLE_POLICY_FILE, "utf8")).toBe(policyText(batchRole));
  });

  it("names labelq's default tables and the bulk table's index, with no table wildcard", () => {
    const text = readFileSync(WORKER_POLICY_FILE, "utf8");
    for (const table of Object.values(DEFAULTS.tables)) expect(text).toContain(`:table/${table}"`);
    expect(text).toContain(`:table/${DEFAULTS.tables.bulkTable}/index/byGroup"`);
    expect(text).not.toMatch(/:table\/[^"]*\*/);
  });

  it("grants the default models' US profiles, and their foundation models only in US geography Regions and only through those profiles", () => {
    const { worker } = documentedPolicies();
    const bySid: Record<string, Record<string, unknown> | undefined> = Object.fromEntries(worker.Statement.map((s) => [String(s.Sid), s]));
    const profiles = ["us.meta.llama3-3-70b-instruct-v1:0", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"].map((id) => `arn:aws:bedrock:REGION:ACCOUNT_ID:inference-profile/${id}`);
    expect(bySid.InvokeInferenceProfiles!.Resource).toEqual(profiles);
    expect(bySid.InvokeProfileModelsOnlyThroughProfiles!.Condition).toEqual({ StringEquals: { "bedrock:InferenceProfileArn": profiles } });
    const models = bySid.InvokeProfileModelsOnlyThroughProfiles!.Resource as string[];
    expect(models).toHaveLength(2 * GEOGRAPHY_REGIONS.us.length);
    for (const arn of models) expect(GEOGRAPHY_REGIONS.us).toContain(arn.split(":")[3]);
    expect(bySid.InvokeOnDemandModels).toBeUndefined();
    expect(JSON.stringify(worker)).not.toContain("bedrock:*");
  });
});

describe("workerModels: the models a worker's settings name, resolved as the worker resolves them", () => {
  it("takes the default, allowed and fallback models and those with a quota, once each", () => {
    const models = workerModels({
      region: "us-east-1",
      geography: "us",
      residency: "geography",
      environment: { LABELQ_DEFAULT_MODEL: "nova-lite", LABELQ_ALLOWED_MODELS: "nova-micro,nova-lite", LABELQ_FALLBACK_MODELS: "claude-haiku", LABELQ_QUOTAS: '{"llama3.3-70b":{"rpm":10}}' },
    });
    expect(models.map((m) => `${m.alias}=${m.modelId}`)).toEqual([
      "nova-lite=us.amazon.nova-lite-v1:0",
      "nova-micro=us.amazon.nova-micro-v1:0",
      "claude-haiku=us.anthropic.claude-haiku-4-5-20251001-v1:0",
      "llama3.3-70b=us.meta.llama3-3-70b-instruct-v1:0",
    ]);
  });

  it("refuses, as the worker does at start, a default or fallback model the residency rules out", () => {
    expect(() => workerModels({ region: "us-east-1", geography: "us", residency: "region" })).toThrow(
      /LABELQ_RESIDENCY=region keeps prompts in us-east-1, but the catalogue has no in-Region model id for the default model llama3\.3-70b \(LABELQ_DEFAULT_MODEL\) and the fallback model claude-sonnet/,
    );
    expect(() => workerModels({ region: "eu-west-1", geography: "eu", residency: "geography" })).toThrow(/llama3\.3-70b has no model id for geography "eu"/);
  });
});

describe("bedrockGrants: the ARNs behind each kind of model id", () => {
  const catalogue = (residency: "region" | "geography" | "global") => loadModelCatalogue({ geography: "eu", residency, region: AT.region });

  it("an in-Region id: the foundation model in the caller's Region, nothing else", () => {
    const grants = bedrockGrants([catalogue("region").find("nova-lite")!], AT);
    expect(grants).toEqual({ inRegionModels: [fm(AT.region, "amazon.nova-lite-v1:0")], profiles: [], profileModels: [] });
  });

  it("a geographic profile: the profile in the caller's Region, the model in each Region of the geography", () => {
    const grants = bedrockGrants([catalogue("geography").find("claude-haiku")!], AT);
    expect(grants.inRegionModels).toEqual([]);
    expect(grants.profiles).toEqual([profile("eu.anthropic.claude-haiku-4-5-20251001-v1:0")]);
    expect(grants.profileModels).toEqual(GEOGRAPHY_REGIONS.eu.map((r) => fm(r, "anthropic.claude-haiku-4-5-20251001-v1:0")));
  });

  it("a global profile: the profile, the model in the caller's Region and the Region-less model ARN", () => {
    const grants = bedrockGrants([catalogue("global").find("claude-sonnet")!], AT);
    expect(grants.profiles).toEqual([profile("global.anthropic.claude-sonnet-4-5-20250929-v1:0")]);
    expect(grants.profileModels).toEqual([fm(AT.region, "anthropic.claude-sonnet-4-5-20250929-v1:0"), fm("", "anthropic.claude-sonnet-4-5-20250929-v1:0")]);
  });

  it("never a wildcard Region or model", () => {
    const all = loadModelCatalogue({ geography: "us", residency: "geography", region: "us-east-1" }).models;
    const grants = bedrockGrants(all, { region: "us-east-1", account: AT.account });
    expect([...grants.inRegionModels, ...grants.profiles, ...grants.profileModels].filter((arn) => arn.includes("*"))).toEqual([]);
  });
});
