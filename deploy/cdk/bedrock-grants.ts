import { type Config, loadConfig } from "../../src/core/config/config.ts";
import { type Geography, loadModelCatalogue, type ModelSpec, type Residency } from "../../src/core/models/model-catalogue.ts";
import { residencyRefusal } from "../../src/app/ops/preflight.ts";
import { modelRoutesSchema, routeAliases } from "../../src/core/classify/model-routes.ts";

/**
 * The Regions each geography's cross-Region inference profiles may route a prompt to. A profile
 * call is authorized again against the foundation model in the destination Region, so the role
 * needs the model there, but only through the profile (the bedrock:InferenceProfileArn condition):
 * a Region listed here that a profile does not route to grants nothing. Destinations change as AWS
 * adds capacity (`aws bedrock get-inference-profile` lists a profile's current ones; "Supported
 * Regions and models for inference profiles",
 * https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html), and a
 * missing Region fails only the calls routed there: add it here. The US profiles of the Claude 4.5
 * models also list ca-central-1.
 */
export const GEOGRAPHY_REGIONS: Readonly<Record<Exclude<Geography, "global">, readonly string[]>> = {
  us: ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1"],
  eu: ["eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3"],
  apac: ["ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4"],
};

/** The worker settings that choose its models, as the worker reads them (LABELQ_*). */
const MODEL_SETTINGS = ["LABELQ_DEFAULT_MODEL", "LABELQ_ALLOWED_MODELS", "LABELQ_FALLBACK_MODELS", "LABELQ_QUOTAS", "LABELQ_MODEL_CATALOGUE", "LABELQ_MODEL_ROUTES"] as const;

/** What decides which model ids a worker calls: its Region, geography, residency and model settings. */
export interface ModelScope {
  /** The worker's Region (AWS_REGION), or a stand-in naming it when it is not known at synth time. */
  region: string;
  geography: Geography;
  residency: Residency;
  /** The worker's environment; only its model settings are read. */
  environment?: Record<string, string | undefined>;
}

/**
 * The models a worker with these settings may call (its default, allowed and fallback models,
 * those LABELQ_QUOTAS names: the list modelCatalogueFor checks at start, and every model
 * LABELQ_MODEL_ROUTES routes to, a deployed student among them), resolved in the same
 * catalogue the worker loads for its geography and residency. Throws what the worker would refuse
 * to start with: a default or fallback model the residency rules out (residencyRefusal, the
 * worker's own message), or a model the catalogue does not have there.
 */
export function workerModels(scope: ModelScope): ModelSpec[] {
  const env = Object.fromEntries(MODEL_SETTINGS.map((k) => [k, scope.environment?.[k]]));
  const config: Config = loadConfig({ ...env, AWS_REGION: scope.region, LABELQ_RESIDENCY: scope.residency, LABELQ_MODEL_GEOGRAPHY: scope.geography });
  const catalogue = loadModelCatalogue({ geography: scope.geography, residency: scope.residency, region: scope.region, overrideFile: config.models.catalogueFile });
  const refusal = residencyRefusal(config, catalogue);
  if (refusal) throw new Error(`the worker would not start: ${refusal.message}`);
  const routes = config.models.routesJson === undefined ? [] : routeAliases(modelRoutesSchema.parse(JSON.parse(config.models.routesJson)));
  const aliases = [...new Set([config.models.default, ...config.models.allowed, ...config.models.fallbacks, ...Object.keys(config.limiter.quotas), ...routes])];
  const missing = aliases.filter((alias) => !catalogue.find(alias));
  if (missing.length > 0) throw new Error(`the worker would not start: ${missing.map((a) => catalogue.whyNot(a)).join("; ")}`);
  return aliases.map((alias) => catalogue.find(alias)!);
}

/** Bedrock resources a role may call, as ARNs (CDK tokens or placeholders allowed for the Region and account). */
export interface BedrockGrants {
  /** Base models called directly in the caller's Region (in-Region ids). */
  inRegionModels: string[];
  /** Cross-Region inference profiles (geographic or global), in the caller's Region. */
  profiles: string[];
  /** The foundation models behind those profiles, wherever a profile may run them; granted only through the profiles. */
  profileModels: string[];
}

/**
 * The ARNs behind each model id:
 * - a deployed custom model's ARN (its catalogue id, written by `labelq distill deploy`): that ARN;
 * - an in-Region id: the foundation model in the caller's Region only;
 * - a geographic profile (us., eu., apac.): the profile, and the foundation model in each of the
 *   geography's Regions (GEOGRAPHY_REGIONS);
 * - a global profile: the profile, and the foundation model in the caller's Region and as the
 *   Region-less ARN global routing is authorized against ("Global cross-Region inference",
 *   https://docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html).
 */
export function bedrockGrants(models: readonly ModelSpec[], at: { region: string; account: string }): BedrockGrants {
  const fm = (region: string, id: string) => `arn:aws:bedrock:${region}::foundation-model/${id}`;
  const grants: BedrockGrants = { inRegionModels: [], profiles: [], profileModels: [] };
  for (const model of models) {
    // A deployed custom model (a custom model deployment or Provisioned Throughput) is called by its own ARN, in its Region.
    if (model.modelId.startsWith("arn:")) {
      grants.inRegionModels.push(model.modelId);
      continue;
    }
    if (model.idKind === "inRegion") {
      grants.inRegionModels.push(fm(at.region, model.modelId));
      continue;
    }
    grants.profiles.push(`arn:aws:bedrock:${at.region}:${at.account}:inference-profile/${model.modelId}`);
    const base = model.modelId.slice(model.idKind.length + 1);
    const regions = model.idKind === "global" ? [at.region, ""] : GEOGRAPHY_REGIONS[model.idKind];
    grants.profileModels.push(...regions.map((r) => fm(r, base)));
  }
  const unique = (list: string[]) => [...new Set(list)];
  return { inRegionModels: unique(grants.inRegionModels), profiles: unique(grants.profiles), profileModels: unique(grants.profileModels) };
}

/** The models of `models` that have Bedrock batch inference (the catalogue's `batch`): those a bulk job may run. */
export function batchModels(models: readonly ModelSpec[]): ModelSpec[] {
  return models.filter((m) => m.batch !== undefined);
}
