import type { Logger } from "pino";
import type { Config, PoolConfig } from "../../core/config/config.ts";
import { ConfigError } from "../../core/errors/errors.ts";
import type { ModelCatalogue } from "../../core/models/model-catalogue.ts";
import { poolQuota, poolRefusal } from "../../core/quota/pool-quota.ts";
import { QuotaLimiter, type QuotaLimiterOptions } from "./quota-limiter.ts";
import { type Pool, PooledLimiter } from "./pooled-limiter.ts";

/**
 * The limiter over LABELQ_POOLS: one QuotaLimiter per pool (its lanes per model, fleet-wide in
 * Redis under a key prefix with the pool's id), routed by PooledLimiter. Checks what config
 * alone cannot (model aliases, residency, the models every pool is refused for) and logs, once,
 * each pool the residency keeps out. Throws a ConfigError naming LABELQ_POOLS.
 */
export function createPooledLimiter(
  config: Pick<Config, "region" | "models" | "limiter">,
  pools: readonly PoolConfig[],
  catalogue: ModelCatalogue,
  base: Omit<QuotaLimiterOptions, "id" | "quotaFor">,
  logger: Logger,
): PooledLimiter {
  const problems: string[] = [];
  pools.forEach((pool, index) => {
    if (pool.model !== undefined && !catalogue.find(pool.model)) problems.push(`LABELQ_POOLS: pool ${index} field model: ${catalogue.whyNot(pool.model)}`);
  });
  if (problems.length > 0) throw new ConfigError(problems);

  const refusal = (pool: PoolConfig, model: string): string | undefined => poolRefusal(pool, model, catalogue, config.region);
  const byId = new Map(pools.map((p) => [p.id, p]));
  const limiterPools: Pool[] = pools.map((pool) => ({
    id: pool.id,
    region: pool.region,
    ...(pool.model !== undefined ? { model: pool.model } : {}),
    ...(pool.modelId !== undefined ? { modelId: pool.modelId } : {}),
    // "reserved" is refused when LABELQ_POOLS is read; "default" is what a call without a tier gets anyway.
    ...(pool.tier === "flex" || pool.tier === "priority" ? { tier: pool.tier } : {}),
    limiter: new QuotaLimiter(
      {
        ...base,
        id: `${config.limiter.id}:pool:${pool.id}`,
        quotaFor: (model) => poolQuota(config.limiter, pool, model),
      },
      logger.child({ pool: pool.id }),
    ),
  }));

  const named = [...new Set([config.models.default, ...config.models.fallbacks, ...config.models.allowed])];
  for (const pool of pools) {
    const reasons = named.map((m) => refusal(pool, m));
    if (reasons.every((r) => r !== undefined)) {
      logger.warn({ pool: pool.id, region: pool.region }, `quota pool not used: ${reasons.find((r) => !r.startsWith("serves ")) ?? reasons[0]}`);
    }
  }
  const stranded = [config.models.default, ...config.models.fallbacks].filter((m) => pools.every((p) => refusal(p, m) !== undefined));
  if (stranded.length > 0) {
    for (const limiter of limiterPools) void limiter.limiter.close();
    throw new ConfigError([
      `LABELQ_POOLS: no pool may carry ${stranded.join(", ")}: ${pools.map((p) => `${p.id}: ${refusal(p, stranded[0]!)}`).join("; ")}`,
    ]);
  }
  logger.info({ pools: pools.map((p) => ({ id: p.id, region: p.region, ...(p.model ? { model: p.model } : {}) })) }, "quota pools");
  return new PooledLimiter({ pools: limiterPools, allowed: (pool, model) => refusal(byId.get(pool.id)!, model) === undefined }, logger);
}

/** A pool's quota for a model (see core/quota/pool-quota.ts, the one source the bulk router uses too). */
export { poolQuota };
