import { GEOGRAPHIES, type Geography } from "../models/model-catalogue.ts";

/**
 * Bedrock's quotas as Service Quotas names them, per model: "On-demand model inference tokens
 * per minute for <model>" for a base model id called in its Region, "Cross-region model
 * inference ..." for a geographic inference profile, "Global cross-region model inference ..."
 * for a global one, and "Model invocation max tokens per day for <model>" (AWS adds
 * " (doubled for cross-region calls)"). <model> is the catalogue's quotaName.
 * https://docs.aws.amazon.com/bedrock/latest/userguide/quotas.html
 */

/** A quota as ListServiceQuotas answers it: its name and value. */
export interface NamedQuota {
  name: string;
  value: number;
}

/** The limits read for one model: undefined where the account lists no quota for it. */
export interface AccountLimits {
  rpm?: number;
  tpm?: number;
  tpd?: number;
}

/** What kind of id a call uses: an in-Region base model id, a geographic profile or a global one. */
export type QuotaIdKind = Geography | "inRegion";

/** The kind of a model id as called (a pool's own modelId may be any of them): by its prefix. */
export function idKindOf(modelId: string): QuotaIdKind {
  const id = modelId.includes("/") ? modelId.slice(modelId.lastIndexOf("/") + 1) : modelId;
  const prefix = id.split(".")[0] ?? "";
  if (prefix === "global") return "global";
  const geographic: readonly string[] = GEOGRAPHIES;
  if (geographic.includes(prefix)) return prefix as Geography;
  // Profiles of geographies the catalogue has no ids for (jp., au., ca., us-gov.) are cross-Region too.
  if (["jp", "au", "ca", "us-gov"].includes(prefix)) return "us";
  return "inRegion";
}

/** The per-minute quota names for a model called with `idKind` ids. */
export function perMinuteNames(quotaName: string, idKind: QuotaIdKind): { tpm: string; rpm: string } {
  const kind = idKind === "inRegion" ? "On-demand" : idKind === "global" ? "Global cross-region" : "Cross-region";
  return { tpm: `${kind} model inference tokens per minute for ${quotaName}`, rpm: `${kind} model inference requests per minute for ${quotaName}` };
}

/** True when `name` is the daily token quota of the model (with or without AWS's parenthesised note). */
export function isDailyTokensName(name: string, quotaName: string, idKind: QuotaIdKind): boolean {
  const bases = [`Model invocation max tokens per day for ${quotaName}`];
  if (idKind === "global") bases.unshift(`Global cross-region model inference tokens per day for ${quotaName}`);
  return bases.some((b) => name === b || name.startsWith(`${b} (`));
}

/** The model's limits among an account's Bedrock quotas, matched by name (exact, case as AWS writes it). */
export function matchModelQuotas(quotas: readonly NamedQuota[], quotaName: string, idKind: QuotaIdKind): AccountLimits {
  const names = perMinuteNames(quotaName, idKind);
  const limits: AccountLimits = {};
  const global = idKind === "global" ? `Global cross-region model inference tokens per day for ${quotaName}` : undefined;
  for (const q of quotas) {
    if (q.name === names.tpm) limits.tpm = q.value;
    else if (q.name === names.rpm) limits.rpm = q.value;
    else if (isDailyTokensName(q.name, quotaName, idKind)) {
      // A global profile's own daily quota wins over the model's general one.
      if (limits.tpd === undefined || q.name === global) limits.tpd = q.value;
    }
  }
  return limits;
}
