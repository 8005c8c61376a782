import { createHash } from "node:crypto";
import { BEDROCK_MODELS, type BedrockModel } from "./bedrock-models.ts";
import type { EmulatorResponse } from "./converse-handler.ts";
import { quotaLimits } from "./quota.ts";
import type { RequestIdentity } from "./request-identity.ts";
import type { EmulatorState } from "./state.ts";
import type { QuotaLimits } from "./types.ts";

/**
 * The Service Quotas API (JSON 1.1 protocol, `X-Amz-Target: ServiceQuotasV20190624.<Operation>`)
 * for ServiceCode "bedrock": ListServiceQuotas and GetServiceQuota answer the quotas the emulator
 * enforces, for the account and Region of the request's signature, under the names and codes
 * Service Quotas uses. A limit the emulator does not enforce is not listed.
 */

const TARGET_PREFIX = "ServiceQuotasV20190624.";
const JSON_11 = "application/x-amz-json-1.1";
const SERVICE_CODE = "bedrock";
const SERVICE_NAME = "Amazon Bedrock";
const MAX_RESULTS = 100;

/** One Bedrock quota as Service Quotas names it, and the emulator limit behind it. */
interface QuotaDefinition {
  name: string;
  code: string;
  limit: keyof QuotaLimits;
  adjustable: boolean;
}

// Quota codes as Service Quotas gives them (the same in every Region). Per-minute codes: the quota
// registry in Kilo-Org/aws-bedrock-o11y (lib/bedrock-registries/us-east-1.ts); daily codes: Service
// Quotas listings quoted in public repositories. Names missing here get a stable placeholder code.
const KNOWN_CODES: Record<string, string> = {
  "On-demand model inference tokens per minute for Meta Llama 3 70B Instruct": "L-609E24B0",
  "On-demand model inference requests per minute for Meta Llama 3 70B Instruct": "L-46D383AF",
  "Cross-region model inference tokens per minute for Meta Llama 3.3 70B Instruct": "L-0E7AA8B7",
  "Cross-region model inference requests per minute for Meta Llama 3.3 70B Instruct": "L-DEDE703C",
  "Cross-region model inference tokens per minute for Meta Llama 4 Scout V1": "L-532E6630",
  "Cross-region model inference requests per minute for Meta Llama 4 Scout V1": "L-751B753A",
  "Cross-region model inference tokens per minute for Meta Llama 4 Maverick V1": "L-DE3FBBF4",
  "Cross-region model inference requests per minute for Meta Llama 4 Maverick V1": "L-4F18EF2F",
  "Cross-region model inference tokens per minute for Anthropic Claude Sonnet 4.5 V1": "L-F4DDD3EB",
  "Cross-region model inference requests per minute for Anthropic Claude Sonnet 4.5 V1": "L-4A6BFAB1",
  "Global cross-region model inference tokens per minute for Anthropic Claude Sonnet 4.5 V1": "L-27C57EE8",
  "Global cross-region model inference requests per minute for Anthropic Claude Sonnet 4.5 V1": "L-DB84CE56",
  "Global cross-region model inference tokens per day for Anthropic Claude Sonnet 4.5 V1": "L-BC182137",
  "Model invocation max tokens per day for Anthropic Claude Sonnet 4.5 V1 (doubled for cross-region calls)": "L-381AD9EE",
  "Cross-region model inference tokens per minute for Anthropic Claude Haiku 4.5": "L-58BE175A",
  "Cross-region model inference requests per minute for Anthropic Claude Haiku 4.5": "L-CCA5DF70",
  "Global cross-region model inference tokens per minute for Anthropic Claude Haiku 4.5": "L-9A11C666",
  "Global cross-region model inference requests per minute for Anthropic Claude Haiku 4.5": "L-E5084BBA",
  "Global cross-region model inference tokens per day for Anthropic Claude Haiku 4.5": "L-B5C049AE",
  "Model invocation max tokens per day for Anthropic Claude Haiku 4.5 (doubled for cross-region calls)": "L-6120CF2D",
  "On-demand model inference tokens per minute for Amazon Nova Micro": "L-CFA4FA0D",
  "On-demand model inference requests per minute for Amazon Nova Micro": "L-E118F160",
  "Cross-region model inference tokens per minute for Amazon Nova Micro": "L-DC7FF66C",
  "Cross-region model inference requests per minute for Amazon Nova Micro": "L-3F110E0F",
  "Model invocation max tokens per day for Amazon Nova Micro (doubled for cross-region calls)": "L-D2912E70",
  "On-demand model inference tokens per minute for Amazon Nova Lite": "L-70423BF8",
  "On-demand model inference requests per minute for Amazon Nova Lite": "L-E386A278",
  "Cross-region model inference tokens per minute for Amazon Nova Lite": "L-7C42E72A",
  "Cross-region model inference requests per minute for Amazon Nova Lite": "L-89F8391A",
  "On-demand model inference tokens per minute for Amazon Nova Pro": "L-CE33604C",
  "On-demand model inference requests per minute for Amazon Nova Pro": "L-F2717A44",
  "Cross-region model inference tokens per minute for Amazon Nova Pro": "L-C0326783",
  "Cross-region model inference requests per minute for Amazon Nova Pro": "L-ED46B8C5",
  "On-demand model inference tokens per minute for Qwen3 32B V1": "L-B7C52139",
  "On-demand model inference requests per minute for Qwen3 32B V1": "L-E880C759",
  "Model invocation max tokens per day for Qwen3 32B V1 (doubled for cross-region calls)": "L-A115DE95",
  "On-demand model inference tokens per minute for OpenAI GPT OSS 120B": "L-9DC5F595",
  "On-demand model inference requests per minute for OpenAI GPT OSS 120B": "L-25B50707",
  "Model invocation max tokens per day for OpenAI GPT OSS 120B (doubled for cross-region calls)": "L-41FDDA6B",
};

/** A code for a quota whose real code was not found: stable (a hash of the name), in Service Quotas' L-XXXXXXXX form. */
export function placeholderCode(name: string): string {
  return `L-${createHash("sha256").update(name).digest("hex").slice(0, 8).toUpperCase()}`;
}

/** The quotas Service Quotas has for a model: on-demand for base ids, cross-region and global for its profiles, tokens per day. */
function modelQuotas(model: BedrockModel): QuotaDefinition[] {
  const n = model.quotaName;
  if (n === undefined) return [];
  const defs: Omit<QuotaDefinition, "code">[] = [];
  if (model.onDemand) {
    defs.push({ name: `On-demand model inference tokens per minute for ${n}`, limit: "tpm", adjustable: false });
    defs.push({ name: `On-demand model inference requests per minute for ${n}`, limit: "rpm", adjustable: false });
  }
  if (model.profiles.some((p) => p !== "global")) {
    defs.push({ name: `Cross-region model inference tokens per minute for ${n}`, limit: "tpm", adjustable: true });
    defs.push({ name: `Cross-region model inference requests per minute for ${n}`, limit: "rpm", adjustable: false });
  }
  if (model.profiles.includes("global")) {
    defs.push({ name: `Global cross-region model inference tokens per minute for ${n}`, limit: "tpm", adjustable: true });
    defs.push({ name: `Global cross-region model inference requests per minute for ${n}`, limit: "rpm", adjustable: false });
    defs.push({ name: `Global cross-region model inference tokens per day for ${n}`, limit: "tpd", adjustable: false });
  }
  defs.push({ name: `Model invocation max tokens per day for ${n} (doubled for cross-region calls)`, limit: "tpd", adjustable: false });
  return defs.map((d) => ({ ...d, code: KNOWN_CODES[d.name] ?? placeholderCode(d.name) }));
}

/** Every Bedrock quota the emulator's model table gives rise to, in table order. */
export const BEDROCK_QUOTAS: readonly QuotaDefinition[] = BEDROCK_MODELS.flatMap(modelQuotas);

/** The ServiceQuota shape of the Service Quotas API. */
interface ServiceQuota {
  ServiceCode: string;
  ServiceName: string;
  QuotaArn: string;
  QuotaCode: string;
  QuotaName: string;
  Value: number;
  Unit: string;
  Adjustable: boolean;
  GlobalQuota: boolean;
  QuotaAppliedAtLevel: "ACCOUNT";
}

/** The quotas as they apply to the request's account and Region; a limit the emulator does not enforce is left out. */
function appliedQuotas(state: EmulatorState, identity: RequestIdentity): ServiceQuota[] {
  const limits = quotaLimits(state.quota.quota, identity.account, identity.region);
  return BEDROCK_QUOTAS.flatMap((q) => {
    const value = limits[q.limit];
    if (value === undefined) return [];
    return [
      {
        ServiceCode: SERVICE_CODE,
        ServiceName: SERVICE_NAME,
        QuotaArn: `arn:aws:servicequotas:${identity.region}:${identity.account}:${SERVICE_CODE}/${q.code}`,
        QuotaCode: q.code,
        QuotaName: q.name,
        Value: value,
        Unit: "None",
        Adjustable: q.adjustable,
        GlobalQuota: false,
        QuotaAppliedAtLevel: "ACCOUNT",
      },
    ];
  });
}

/** True when an X-Amz-Target header names a Service Quotas operation. */
export function isServiceQuotasTarget(target: string | undefined): target is string {
  return target?.startsWith(TARGET_PREFIX) === true;
}

function json(status: number, body: unknown, requestId: string): EmulatorResponse {
  return { status, headers: { "content-type": JSON_11, "x-amzn-requestid": requestId }, body: JSON.stringify(body), delayMs: 0 };
}

/** A JSON 1.1 protocol error: the SDK reads its name from x-amzn-errortype (and __type). */
function jsonError(status: number, name: string, message: string, requestId: string): EmulatorResponse {
  return {
    status,
    headers: { "content-type": JSON_11, "x-amzn-requestid": requestId, "x-amzn-errortype": name },
    body: JSON.stringify({ __type: name, message }),
    delayMs: 0,
  };
}

function parseBody(raw: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = raw === "" ? {} : JSON.parse(raw);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Answers ListServiceQuotas and GetServiceQuota for ServiceCode bedrock; other operations and services are refused. */
export function handleServiceQuotas(state: EmulatorState, target: string, rawBody: string, identity: RequestIdentity, requestId: string): EmulatorResponse {
  const operation = target.slice(TARGET_PREFIX.length);
  if (operation !== "ListServiceQuotas" && operation !== "GetServiceQuota") {
    return jsonError(400, "UnknownOperationException", `The emulator does not serve Service Quotas ${operation}.`, requestId);
  }
  const body = parseBody(rawBody);
  if (body === undefined) return jsonError(400, "IllegalArgumentException", "The request body is not a JSON object.", requestId);
  if (typeof body.ServiceCode !== "string") return jsonError(400, "IllegalArgumentException", "ServiceCode is required.", requestId);
  // Only Bedrock's quotas are modelled: other services are unknown here (real Service Quotas would list theirs).
  if (body.ServiceCode !== SERVICE_CODE) return jsonError(400, "NoSuchResourceException", `The emulator serves only ServiceCode ${SERVICE_CODE}.`, requestId);
  const quotas = appliedQuotas(state, identity);
  if (operation === "GetServiceQuota") {
    const quota = quotas.find((q) => q.QuotaCode === body.QuotaCode);
    if (quota === undefined) return jsonError(400, "NoSuchResourceException", `The quota ${String(body.QuotaCode)} does not exist or is not enforced here.`, requestId);
    return json(200, { Quota: quota }, requestId);
  }
  return listPage(quotas, body, requestId);
}

/** One page of ListServiceQuotas: MaxResults (1 to 100, default 100) from NextToken (an offset), optionally one QuotaCode. */
function listPage(all: ServiceQuota[], body: Record<string, unknown>, requestId: string): EmulatorResponse {
  const quotas = typeof body.QuotaCode === "string" ? all.filter((q) => q.QuotaCode === body.QuotaCode) : all;
  const max = body.MaxResults === undefined ? MAX_RESULTS : body.MaxResults;
  if (typeof max !== "number" || !Number.isInteger(max) || max < 1 || max > MAX_RESULTS) {
    return jsonError(400, "IllegalArgumentException", `MaxResults must be an integer from 1 to ${MAX_RESULTS}.`, requestId);
  }
  const start = body.NextToken === undefined ? 0 : Number(body.NextToken);
  if (!Number.isInteger(start) || start < 0 || start > quotas.length) return jsonError(400, "InvalidPaginationTokenException", "Invalid pagination token.", requestId);
  const end = start + max;
  return json(200, { Quotas: quotas.slice(start, end), ...(end < quotas.length ? { NextToken: String(end) } : {}) }, requestId);
}
