import { ListServiceQuotasCommand, ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import type { Config, PoolConfig } from "../core/config/config.ts";
import type { ModelCatalogue } from "../core/models/model-catalogue.ts";
import { type AccountLimits, idKindOf, matchModelQuotas, type NamedQuota } from "../core/quota/service-quota-names.ts";
import { poolCredentials } from "./aws-clients.ts";

/**
 * Bedrock's quotas as the account reports them (Service Quotas ListServiceQuotas, ServiceCode
 * "bedrock"), per quota pool: in the pool's Region and, with a roleArn, the pool's account.
 * Needs servicequotas:ListServiceQuotas.
 * https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_ListServiceQuotas.html
 */

/** One model of one pool: the limits configured for it and those the account reports. */
export interface PoolModelQuota {
  pool: string;
  region: string;
  /** The pool's role, when it is in another account. */
  roleArn?: string;
  model: string;
  modelId: string;
  configured: { rpm?: number; tpm?: number; tpd?: number };
  /** What Service Quotas answered; undefined when it could not be read. */
  account?: AccountLimits;
  /** Why the account's quotas could not be read. */
  error?: string;
}

/** Every Bedrock quota applied to the client's account and Region, all pages. */
export async function listBedrockQuotas(client: ServiceQuotasClient): Promise<NamedQuota[]> {
  const quotas: NamedQuota[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListServiceQuotasCommand({ ServiceCode: "bedrock", MaxResults: 100, ...(token !== undefined ? { NextToken: token } : {}) }));
    for (const q of page.Quotas ?? []) {
      if (q.QuotaName !== undefined && q.Value !== undefined) quotas.push({ name: q.QuotaName, value: q.Value });
    }
    token = page.NextToken;
  } while (token);
  return quotas;
}

/** The pools labelq spreads calls over: LABELQ_POOLS, or the implicit one in AWS_REGION. */
export function poolsOf(config: Pick<Config, "region" | "limiter">): PoolConfig[] {
  return config.limiter.pools ?? [{ id: config.region, region: config.region }];
}

/** The model aliases a pool serves: its own, or every model the configuration names. */
export function poolModels(config: Pick<Config, "models" | "limiter">, pool: Pick<PoolConfig, "model">): string[] {
  if (pool.model !== undefined) return [pool.model];
  return [...new Set([config.models.default, ...config.models.fallbacks, ...config.models.allowed])];
}

/**
 * For every pool and model it serves, the configured limits beside the account's. A pool whose
 * quotas cannot be read (no permission, no such Region, the role not assumable) carries the error.
 */
export async function readPoolQuotas(
  config: Pick<Config, "region" | "endpoints" | "models" | "limiter">,
  catalogue: ModelCatalogue,
): Promise<PoolModelQuota[]> {
  const rows: PoolModelQuota[] = [];
  for (const pool of poolsOf(config)) {
    const client = new ServiceQuotasClient({
      region: pool.region,
      maxAttempts: 3,
      ...(config.endpoints.serviceQuotas !== undefined ? { endpoint: config.endpoints.serviceQuotas } : {}),
      ...(pool.roleArn !== undefined ? { credentials: poolCredentials(config, pool) } : {}),
    });
    let quotas: NamedQuota[] | undefined;
    let error: string | undefined;
    try {
      quotas = await listBedrockQuotas(client);
    } catch (e) {
      const err = e as Error;
      error = `${err.name}: ${err.message.split("\n")[0]}`;
    } finally {
      client.destroy();
    }
    for (const model of poolModels(config, pool)) {
      const spec = catalogue.find(model);
      if (!spec) continue;
      const modelId = pool.modelId ?? spec.modelId;
      const kind = pool.modelId !== undefined ? idKindOf(pool.modelId) : spec.idKind;
      const set = { ...config.limiter.quota, ...config.limiter.quotas[model] };
      const rpm = pool.rpm ?? (set.rpm > 0 ? set.rpm : undefined);
      const tpm = pool.tpm ?? (set.tpm > 0 ? set.tpm : undefined);
      const configured = { ...(rpm !== undefined ? { rpm } : {}), ...(tpm !== undefined ? { tpm } : {}), ...(pool.tpd !== undefined ? { tpd: pool.tpd } : {}) };
      rows.push({
        pool: pool.id,
        region: pool.region,
        ...(pool.roleArn !== undefined ? { roleArn: pool.roleArn } : {}),
        model,
        modelId,
        configured,
        ...(quotas ? { account: matchModelQuotas(quotas, spec.quotaName, kind) } : {}),
        ...(error !== undefined ? { error } : {}),
      });
    }
  }
  return rows;
}
