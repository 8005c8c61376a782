import type { Config, PoolConfig } from "../config/config.ts";
import type { ModelCatalogue } from "../models/model-catalogue.ts";
import { residencyRefusal } from "./pools.ts";

/**
 * The quota labelq keeps under, per pool and model, and the quota that drains a model's backlog:
 * one source for both the limiter (one lane per pool and model) and the bulk router (live or
 * bulk by the backlog's drain time), so the two cannot disagree.
 */

/** A lane's quota: the ceiling labelq stays under, not a target. 0 = no limit of that kind. */
export interface LaneQuota {
  rpm: number;
  tpm: number;
  /** Tokens per rolling 24 hours (a pool's `tpd`); 0 or absent = not enforced ahead of Bedrock. */
  tpd?: number;
}

type LimiterQuotas = Pick<Config["limiter"], "quota" | "quotas">;

/** A pool's quota for a model: the pool's own limits over LABELQ_QUOTAS over LABELQ_QUOTA_RPM/TPM; tpd only from the pool. */
export function poolQuota(limiter: LimiterQuotas, pool: Pick<PoolConfig, "rpm" | "tpm" | "tpd">, model: string): LaneQuota {
  return {
    ...limiter.quota,
    ...limiter.quotas[model],
    ...(pool.rpm !== undefined ? { rpm: pool.rpm } : {}),
    ...(pool.tpm !== undefined ? { tpm: pool.tpm } : {}),
    ...(pool.tpd !== undefined && pool.tpd > 0 ? { tpd: pool.tpd } : {}),
  };
}

/**
 * Why `pool` may not carry `model`'s calls (the pool serves another model only, the model is not
 * in the catalogue, or LABELQ_RESIDENCY keeps prompts out of the pool's Region), or undefined
 * when it may.
 */
export function poolRefusal(pool: Pick<PoolConfig, "region" | "model">, model: string, catalogue: ModelCatalogue, homeRegion: string): string | undefined {
  if (pool.model !== undefined && pool.model !== model) return `serves ${pool.model} only`;
  const spec = catalogue.find(model);
  if (!spec) return "not in the model catalogue";
  return residencyRefusal(pool, spec.idKind, { residency: catalogue.residency, homeRegion, geography: catalogue.geography });
}

/**
 * The quota that drains `model`'s backlog live. Without LABELQ_POOLS: LABELQ_QUOTAS over
 * LABELQ_QUOTA_*. With it: the sum, field by field, of poolQuota over the pools that may carry
 * the model (poolRefusal), each with its own limits (typed in, or filled from Service Quotas at
 * start). One pool without a limit of a kind (0) leaves the sum without one too: no drain time
 * can be told from it. No pool may carry the model: 0 (unknown), as with no quota configured.
 */
export function drainQuota(config: Pick<Config, "region" | "limiter">, catalogue: ModelCatalogue, model: string): { rpm: number; tpm: number } {
  const pools = config.limiter.pools;
  if (!pools) {
    const { rpm, tpm } = poolQuota(config.limiter, {}, model);
    return { rpm, tpm };
  }
  const carrying = pools.filter((p) => poolRefusal(p, model, catalogue, config.region) === undefined).map((p) => poolQuota(config.limiter, p, model));
  const sum = (field: "rpm" | "tpm") => (carrying.length === 0 || carrying.some((q) => q[field] === 0) ? 0 : carrying.reduce((n, q) => n + q[field], 0));
  return { rpm: sum("rpm"), tpm: sum("tpm") };
}

/** One pool's and model's daily token quota as the account reports it (a row of readPoolQuotas). */
export interface AccountDay {
  pool: string;
  account?: { tpd?: number };
}

/**
 * Pools with `tpd` unset take the account's daily token quota ("Model invocation max tokens per
 * day for <model>", Service Quotas): the lowest among the models the pool serves, since one pool
 * limit covers them all. A pool whose quota could not be read keeps no tpd (Bedrock's own daily
 * throttle still pauses it).
 */
export function withAccountDays<P extends Pick<PoolConfig, "id" | "tpd">>(pools: readonly P[], rows: readonly AccountDay[]): P[] {
  return pools.map((pool) => {
    if (pool.tpd !== undefined) return pool;
    const days = rows.filter((r) => r.pool === pool.id).flatMap((r) => (r.account?.tpd !== undefined && r.account.tpd > 0 ? [r.account.tpd] : []));
    return days.length > 0 ? { ...pool, tpd: Math.min(...days) } : pool;
  });
}
