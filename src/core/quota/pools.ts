import type { Residency } from "../models/model-catalogue.ts";
import { type Geography, geographyOf } from "../models/model-catalogue.ts";

/**
 * Quota pools. Bedrock's on-demand quotas are per model and per Region (and per account), so
 * each Region labelq may call is a pool of its own quota. A call goes to the pool with the most
 * room for it among those its model and LABELQ_RESIDENCY allow.
 */

/** Where a pool is and what it serves, as routing needs it. */
export interface PoolPlace {
  id: string;
  region: string;
  /** The only model alias the pool serves; undefined: every model. */
  model?: string;
}

/** What a model's calls may leave the caller's Region for (its catalogue id kind and the residency). */
export interface ResidencyScope {
  residency: Residency;
  /** AWS_REGION: the one Region "region" residency allows. */
  homeRegion: string;
  /** The geography the catalogue resolved ids for (LABELQ_MODEL_GEOGRAPHY or AWS_REGION's). */
  geography: Geography;
}

/**
 * Why `pool` may not carry `idKind` calls under the residency, or undefined when it may.
 * "region" keeps every prompt in AWS_REGION; "geography" keeps it in the geography's Regions
 * (a geographic profile can only be called from its own geography); a global profile may be
 * called from any Region.
 */
export function residencyRefusal(pool: Pick<PoolPlace, "region">, idKind: Geography | "inRegion", scope: ResidencyScope): string | undefined {
  if (scope.residency === "region") {
    return pool.region === scope.homeRegion ? undefined : `LABELQ_RESIDENCY=region keeps prompts in ${scope.homeRegion}`;
  }
  if (idKind === "global") return undefined;
  const geography = geographyOf(pool.region);
  return geography === scope.geography ? undefined : `LABELQ_RESIDENCY=${scope.residency} keeps prompts in the ${scope.geography} geography, and ${pool.region} is in ${geography}`;
}

/**
 * Room left in a pool's window for one call: tokens after its reservation, and requests after it;
 * Infinity: no limit. `dayTokens`: room left in the pool's day budget (tpd) after the reservation,
 * when the pool has one.
 */
export interface Headroom {
  tokens: number;
  requests: number;
  dayTokens?: number;
}

/** Whether the pool's day budget can take the call (true without a tpd). */
export function dayCanTake(h: Headroom): boolean {
  return h.dayTokens === undefined || h.dayTokens >= 0;
}

/**
 * The pool with the most headroom for a call: first one the call fits in now, then the most
 * tokens left, then the most requests left. Ties go to the first from `start` on (the caller
 * rotates it), so pools with equal room share the calls. Undefined when there is none.
 */
export function mostHeadroom<P>(candidates: readonly { pool: P; headroom: Headroom }[], start = 0): P | undefined {
  const n = candidates.length;
  let best: { pool: P; headroom: Headroom } | undefined;
  for (let k = 0; k < n; k++) {
    const c = candidates[(start + k) % n]!;
    if (!best || roomier(c.headroom, best.headroom)) best = c;
  }
  return best?.pool;
}

function fits(h: Headroom): boolean {
  return h.tokens >= 0 && h.requests >= 0;
}

function roomier(a: Headroom, b: Headroom): boolean {
  if (fits(a) !== fits(b)) return fits(a);
  if (a.tokens !== b.tokens) return a.tokens > b.tokens;
  return a.requests > b.requests;
}
