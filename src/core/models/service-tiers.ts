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
  /** The Regions where its optional tiers are offered (catalogue tierRegions); undefined: wherever it answers. */
  tierRegions?: readonly string[];
}

/** True when `model` is served on `tier` (default always is), in any Region that offers its tiers. */
export function offersTier(model: TierOffer, tier: ServiceTier): boolean {
  return tier === "default" || model.serviceTiers.includes(tier);
}

/**
 * True when a call to `model` sent to `region` may carry `tier`: default anywhere; flex and
 * priority only in the Regions the service-tiers page lists for the model (elsewhere Bedrock
 * answers ValidationException). An unknown Region (undefined) is taken at the catalogue's word.
 */
export function offersTierIn(model: TierOffer, tier: ServiceTier, region: string | undefined): boolean {
  if (!offersTier(model, tier)) return false;
  return tier === "default" || region === undefined || model.tierRegions === undefined || model.tierRegions.includes(region);
}

/**
 * Where one call goes, as its tier needs it: the Region whose endpoint it is sent to (a quota
 * pool's, else AWS_REGION's) and the pool's own tier (LABELQ_POOLS tier). For a cross-Region
 * inference profile this is the source Region, the one the call is signed for.
 */
export interface CallPlace {
  region?: string;
  poolTier?: ServiceTier;
}

/** The tier a call is sent on, and whether it is default only because the producer's tier is not offered there. */
export interface SentTier {
  tier: ServiceTier;
  fellBack: boolean;
}

/**
 * The one decision of the tier a call to `model` is sent on, made per attempt once the call's
 * Region is known (`place`). First that applies:
 *  1. `wanted` where the model offers it in that Region.
 *  2. A tier the producer asked for (source "request") that is not offered there: default, with
 *     `fellBack` set (counted in usage.tierFallbacks), rather than a call Bedrock refuses.
 *  3. The pool's tier where the model offers it there (a policy tier not offered is only a
 *     preference, so it falls through to here).
 *  4. Undefined: no serviceTier, as before tiers.
 */
export function tierFor(model: TierOffer, wanted: WantedTier | undefined, place: CallPlace = {}): SentTier | undefined {
  if (wanted !== undefined) {
    if (offersTierIn(model, wanted.tier, place.region)) return { tier: wanted.tier, fellBack: false };
    if (wanted.source === "request") return { tier: "default", fellBack: true };
  }
  if (place.poolTier !== undefined && offersTierIn(model, place.poolTier, place.region)) return { tier: place.poolTier, fellBack: false };
  return undefined;
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
