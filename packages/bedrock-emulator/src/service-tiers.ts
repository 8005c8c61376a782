import { awsError, type AwsError } from "./aws-errors.ts";
import type { BedrockModel } from "./bedrock-models.ts";
import type { ServiceTierType } from "./converse-request.ts";
import type { LenientRule } from "./strictness.ts";

// Service answers quoted in public threads (sources in docs/bedrock-fidelity.md): a tier the
// model does not offer (sameerbattoo/bedrock-smart-router, Opus with priority); reserved
// without a reservation (envoyproxy/ai-gateway#1749, NousResearch/hermes-agent#34476).
const TIER_NOT_SUPPORTED = "The provided service tier is not supported for this model";
const NO_RESERVATION = "Reservation not found.";

/**
 * The error Bedrock answers when the model cannot be served on the requested tier, or undefined.
 * default is offered everywhere (Standard tier: "all foundation models"); priority and flex where
 * the model's table entry lists them, in the Regions it lists (unsigned requests: any Region);
 * reserved needs a capacity reservation, which the emulator never has. Lenient `service-tier`:
 * every tier is served, on the on-demand quota.
 */
export function refuseTier(model: BedrockModel, tier: ServiceTierType | undefined, signedRegion: string | undefined, lenient: ReadonlySet<LenientRule>): AwsError | undefined {
  if (tier === undefined || tier === "default" || lenient.has("service-tier")) return undefined;
  if (tier === "reserved") return awsError("ValidationException", NO_RESERVATION);
  const offered = model.serviceTiers?.includes(tier) === true;
  // The Region case's wording is not documented: the model's message is used for it too.
  const inRegion = signedRegion === undefined || model.tierRegions === undefined || model.tierRegions.includes(signedRegion);
  return offered && inRegion ? undefined : awsError("ValidationException", TIER_NOT_SUPPORTED);
}
