import { AsyncLocalStorage } from "node:async_hooks";
import type { ServiceTier } from "../models/service-tiers.ts";

/**
 * Where the model call running now goes, when labelq spreads calls over quota pools: the
 * limiter that chose the pool runs the call with its route, and the provider reads it to call
 * that pool's Region, and callModel to choose the call's service tier for that Region (tierFor).
 * A port between the two adapters, which do not import each other.
 */
export interface PoolRoute {
  poolId: string;
  region: string;
  /** The pool's own id for the model (or inference profile), when it has one. */
  modelId?: string;
  /** The pool's default service tier (LABELQ_POOLS tier), for calls that name none, to models that offer it in the pool's Region. */
  tier?: ServiceTier;
  /** The pool failed in a way the next call would too (endpoint down, access refused): take it out for a while. */
  takeOut(reason: string, cause?: unknown): void;
}

const routes = new AsyncLocalStorage<PoolRoute>();

/** Run `task` with `route` as its current route (and every continuation of it). */
export function runWithRoute<T>(route: PoolRoute, task: () => Promise<T>): Promise<T> {
  return routes.run(route, task);
}

/** The route of the call running now, or undefined outside a pooled limiter. */
export function currentRoute(): PoolRoute | undefined {
  return routes.getStore();
}
