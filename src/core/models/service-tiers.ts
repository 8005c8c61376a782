/**
 * Bedrock service tiers (docs: service-tiers-inference; Converse `serviceTier: {type}`): every
 * model is served on "default" (Standard); "flex" (discounted, shed first under load) and
 * "priority" (a premium, served ahead of the others) only on the models and Regions the page
 * lists. The on-demand quota is shared by all three. "reserved" needs a capacity reservation
 * and is not used by labelq.
 */
export const SERVICE_TIERS = ["default", "flex", "priority"] as const;
export type ServiceTier = (typeof SERVICE_TIERS)[number];

/** The tiers besides default that a catalogue entry may offer. */
export const OPTIONAL_TIERS = ["flex", "priority"] as const;
export type OptionalTier = (typeof OPTIONAL_TIERS)[number];

/** What a model offers, as the tier choice needs it. */
export interface TierOffer {
  /** Every tier the model is served on, "default" included. */
  serviceTiers: readonly ServiceTier[];
}

/** True when `model` is served on `tier` (default always is). */
export function offersTier(model: TierOffer, tier: ServiceTier): boolean {
  return tier === "default" || model.serviceTiers.includes(tier);
}

/**
 * The tier a call to `model` is sent on when `wanted` was asked for: `wanted` where the model
 * offers it. Where it does not, a tier the producer asked for (only a fallback model can lack it:
 * the request's own model was checked) runs on default with `fellBack` set, rather than not at
 * all; a tier the policy chose is only a preference, so the call carries no tier (and a quota
 * pool's tier may apply). Undefined when nothing was asked for: no serviceTier, as before tiers.
 */
export function tierFor(model: TierOffer, wanted: WantedTier | undefined): { tier: ServiceTier; fellBack: boolean } | undefined {
  if (wanted === undefined) return undefined;
  if (offersTier(model, wanted.tier)) return { tier: wanted.tier, fellBack: false };
  return wanted.source === "request" ? { tier: "default", fellBack: true } : undefined;
}

/**
 * LABELQ_FLEX_BEYOND_S, LABELQ_FLEX_WITHOUT_DEADLINE and LABELQ_PRIORITY_WITHIN_S: how a request
 * without a `tier` gets one. All unset: no tier is chosen, and calls go out as they always did.
 */
export interface TierPolicy {
  /** A deadline at least this many seconds away: flex. */
  flexBeyondS?: number;
  /** A request without a deadline is backlog work: flex. */
  flexWithoutDeadline?: boolean;
  /** A deadline this many seconds away or closer (or already past): priority. */
  priorityWithinS?: number;
}

/** Where a call's wanted tier came from: the request itself, or the tier policy. */
export type TierSource = "request" | "policy";

/** The tier a batch asks for, and whether the producer chose it or the policy did. */
export interface WantedTier {
  tier: ServiceTier;
  source: TierSource;
}

/**
 * The tier a request asks for: its own `tier` when it has one, else the policy's choice from the
 * deadline (`deadline` an ISO date-time, `now` epoch ms): priority when it is near, flex when it
 * is far or absent on backlog work. Undefined: no preference (a pool's tier may then apply).
 */
export function wantedTier(requested: ServiceTier | undefined, deadline: string | undefined, policy: TierPolicy | undefined, now: number): WantedTier | undefined {
  if (requested !== undefined) return { tier: requested, source: "request" };
  const tier = policyTier(deadline, policy ?? {}, now);
  return tier === undefined ? undefined : { tier, source: "policy" };
}

function policyTier(deadline: string | undefined, policy: TierPolicy, now: number): ServiceTier | undefined {
  if (deadline === undefined) return policy.flexWithoutDeadline ? "flex" : undefined;
  const leftS = (Date.parse(deadline) - now) / 1000;
  if (policy.priorityWithinS !== undefined && leftS <= policy.priorityWithinS) return "priority";
  if (policy.flexBeyondS !== undefined && leftS >= policy.flexBeyondS) return "flex";
  return undefined;
}

/**
 * The tier of the next attempt after `previous` was shed on flex (ModelCallError.shedTier): a
 * producer's own flex stays flex (it asked for the discount and its retries wait like any
 * throttle); the policy's flex moves to default when the request has a deadline, since a shed
 * costs time that a deadline may not have, and stays flex on backlog work without one.
 */
export function tierAfterShed(wanted: WantedTier, hasDeadline: boolean): WantedTier {
  if (wanted.tier !== "flex" || wanted.source === "request" || !hasDeadline) return wanted;
  return { tier: "default", source: "policy" };
}
