import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Config, PoolConfig } from "../../core/config/config.ts";
import { WorkerStartError } from "../../core/errors/errors.ts";
import { geographyOf, loadModelCatalogue, type ModelCatalogue } from "../../core/models/model-catalogue.ts";
import type { PoolModelQuota } from "../../adapters/service-quotas.ts";
import { withAccountDays } from "../../core/quota/pool-quota.ts";
import { checkRedisAccess, LIMITER_ACL_COMMANDS, limiterAclPatterns, type RedisAccess, redisAddress } from "../../adapters/limiter/redis-connection.ts";

/** A queue the worker uses, with the variable that names it (for the message that says what to fix). */
export interface QueueToCheck {
  name: "requests" | "results" | "dead-letter";
  url: string;
  variable: string;
}

/** The queues a worker reads and writes: requests, the default results queue, the DLQ. */
export function workerQueues(queues: Required<Config["queues"]>): QueueToCheck[] {
  return [
    { name: "requests", url: queues.requests, variable: "LABELQ_REQUESTS_QUEUE_URL" },
    { name: "results", url: queues.results, variable: "LABELQ_RESULTS_QUEUE_URL" },
    { name: "dead-letter", url: queues.dlq, variable: "LABELQ_DLQ_URL" },
  ];
}

/**
 * Before a worker polls, check that it can work: one GetQueueAttributes per queue it uses. The
 * first call is signed with the credentials, so it proves them too. Throws a WorkerStartError
 * naming the cause and the queue; without this the poll loop would retry a missing queue or
 * missing credentials forever. (A replyTo queue is checked when a result is sent to it.)
 */
export async function checkWorkerCanStart(sqs: SQSClient, queues: readonly QueueToCheck[]): Promise<void> {
  for (const queue of queues) {
    try {
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ["QueueArn"] }));
    } catch (error) {
      throw whyWorkerCannotStart(error, queue);
    }
  }
}

/** SDK error names (and SQS's query-protocol codes) for credentials AWS does not accept. */
const REFUSED_CREDENTIALS = new Set([
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "SignatureDoesNotMatch",
  "IncompleteSignature",
  "InvalidSignatureException",
  "ExpiredToken",
  "ExpiredTokenException",
  "InvalidAccessKeyId",
  "AuthFailure",
]);

/** One line for why the check on `queue` failed: missing or refused credentials, a missing queue, a denied one, or the SDK's own words. */
export function whyWorkerCannotStart(error: unknown, queue: QueueToCheck): WorkerStartError {
  const e = error as { name?: string; Code?: string; message?: string };
  const name = e.name ?? "Error";
  const said = (e.message ?? String(error)).split("\n")[0];
  const which = `the ${queue.name} queue ${queue.url} (${queue.variable})`;
  if (name === "CredentialsProviderError") {
    return new WorkerStartError(
      `no AWS credentials found (environment, shared config or credentials file, or an instance or task role), so the worker cannot read ${which}; against \`labelq local\` any value works: export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test`,
      { cause: error },
    );
  }
  if (REFUSED_CREDENTIALS.has(name) || (e.Code !== undefined && REFUSED_CREDENTIALS.has(e.Code))) {
    return new WorkerStartError(`AWS refused the credentials when the worker read ${which}: ${name}: ${said}`, { cause: error });
  }
  if (name === "QueueDoesNotExist" || e.Code === "AWS.SimpleQueueService.NonExistentQueue") {
    return new WorkerStartError(`${which} does not exist: create it, or point ${queue.variable} at the right URL (and region)`, { cause: error });
  }
  if (/AccessDenied/.test(name) || (e.Code !== undefined && /AccessDenied/.test(e.Code))) {
    return new WorkerStartError(
      `not allowed to read ${which} (sqs:GetQueueAttributes; deploy/iam/worker-policy.json grants it on the requests, results and dead-letter queues): ${said}`,
      { cause: error },
    );
  }
  return new WorkerStartError(`cannot read ${which}: ${name === "Error" ? "" : `${name}: `}${said}`, { cause: error });
}

/**
 * Under LABELQ_RESIDENCY=region, the refusal to start when the default model or a fallback has no
 * in-Region id in `catalogue` (one resolved under "region"): one line naming them and the
 * catalogue's models that can run in the Region; undefined when they all can, or under another residency.
 */
export function residencyRefusal(config: Pick<Config, "region" | "models">, catalogue: ModelCatalogue): WorkerStartError | undefined {
  if (config.models.residency !== "region") return undefined;
  const roles = [
    { alias: config.models.default, what: "the default model", variable: "LABELQ_DEFAULT_MODEL" },
    ...config.models.fallbacks.map((alias) => ({ alias, what: "the fallback model", variable: "LABELQ_FALLBACK_MODELS" })),
  ];
  const cannot = roles.filter((r) => !catalogue.find(r.alias));
  if (cannot.length === 0) return undefined;
  const named = cannot.map((r) => `${r.what} ${r.alias} (${r.variable})`).join(" and ");
  const can = catalogue.models.map((m) => m.alias).join(", ") || "none";
  return new WorkerStartError(
    `LABELQ_RESIDENCY=region keeps prompts in ${config.region}, but the catalogue has no in-Region model id for ${named}; models that can run in ${config.region}: ${can} (choose from them, or another LABELQ_RESIDENCY)`,
  );
}

/**
 * The start-up check of residency: under LABELQ_RESIDENCY=region, throws residencyRefusal's
 * WorkerStartError. A catalogue file that does not load is left to modelCatalogueFor to report.
 */
export function checkModelResidency(config: Pick<Config, "region" | "models">): void {
  if (config.models.residency !== "region") return;
  let catalogue: ModelCatalogue;
  try {
    catalogue = loadModelCatalogue({ geography: geographyOf(config.region), residency: "region", region: config.region, overrideFile: config.models.catalogueFile });
  } catch {
    return;
  }
  const refusal = residencyRefusal(config, catalogue);
  if (refusal) throw refusal;
}

/**
 * Before a worker polls, check that the limiter's Redis (LABELQ_REDIS_URL) accepts its credentials
 * and lets its user use the limiter's keys, channels and commands. Throws a WorkerStartError in one
 * line naming the variables to fix: without the check a wrong LABELQ_REDIS_AUTH_TOKEN would leave
 * every worker limiting alone on its share of the quota, said only in a log line. An unreachable
 * Redis does not stop the start (the limiter limits locally until it is back): that result is
 * returned for the caller to report. Resolves to undefined without a Redis URL.
 */
export async function checkLimiterRedis(limiter: Pick<Config["limiter"], "redisUrl" | "id">, timeoutMs?: number): Promise<RedisAccess | undefined> {
  if (!limiter.redisUrl) return undefined;
  const access = await checkRedisAccess(limiter.redisUrl, limiter.id, timeoutMs);
  if (access.ok || access.why === "unreachable") return access;
  const where = `Redis at ${redisAddress(limiter.redisUrl)} (LABELQ_REDIS_URL)`;
  const said = access.error.message.split("\n")[0];
  if (access.why === "refused") {
    throw new WorkerStartError(`${where} refused the limiter's credentials: ${said}; check LABELQ_REDIS_AUTH_TOKEN (and LABELQ_REDIS_USERNAME for an ACL user)`, {
      cause: access.error,
    });
  }
  throw new WorkerStartError(
    `${where} does not let the limiter's user use its keys, channels or commands: ${said}; the user's ACL needs ${limiterAclPatterns(limiter.id)} for LABELQ_LIMITER_ID=${limiter.id}, and ${LIMITER_ACL_COMMANDS} (or +@all)`,
    { cause: access.error },
  );
}

/**
 * Before a worker with LABELQ_POOLS starts: a pool with no rpm or tpm set for its models (in the
 * pool, LABELQ_QUOTAS or LABELQ_QUOTA_RPM/TPM) takes them from the account's Bedrock quotas
 * (`read`, Service Quotas), the lowest among the models it serves since one pool limit covers
 * them all. Throws a WorkerStartError naming every pool that has none set and none readable: a
 * pool without limits would learn its quota only from throttles. Without pools, or with every
 * limit set, it reads nothing and returns the config as it was.
 */
export async function fillPoolLimits<C extends Pick<Config, "limiter">>(
  config: C,
  read: () => Promise<readonly PoolModelQuota[]>,
  warn: (message: string) => void = () => {},
): Promise<C> {
  const pools = config.limiter.pools;
  if (!pools) return config;
  const unset = (pool: PoolConfig, field: "rpm" | "tpm") =>
    pool[field] === undefined && !(config.limiter.quota[field] > 0) && !Object.values(config.limiter.quotas).some((q) => (q[field] ?? 0) > 0);
  if (!pools.some((p) => unset(p, "rpm") || unset(p, "tpm"))) return config;
  const rows = await read();
  const refused: string[] = [];
  const filled = pools.map((pool) => {
    const mine = rows.filter((r) => r.pool === pool.id);
    const lowest = (field: "rpm" | "tpm") => {
      const values = mine.map((r) => r.account?.[field]).filter((v): v is number => v !== undefined);
      return values.length > 0 ? Math.min(...values) : undefined;
    };
    const next = { ...pool };
    for (const field of ["rpm", "tpm"] as const) {
      if (!unset(pool, field)) continue;
      const value = lowest(field);
      if (value !== undefined) next[field] = value;
    }
    const why = mine.find((r) => r.error !== undefined)?.error ?? `no Bedrock quota listed for ${mine.map((r) => r.modelId).join(", ") || "its models"}`;
    if (unset(next, "rpm") && unset(next, "tpm")) refused.push(`pool ${pool.id} (${pool.region}): ${why}`);
    // One limit set and the other unreadable: the pool starts on the one, and says what it lacks.
    else if (unset(next, "rpm") || unset(next, "tpm")) warn(`quota pool ${pool.id} (${pool.region}) has no ${unset(next, "rpm") ? "rpm" : "tpm"} set and none could be read: ${why}`);
    return next;
  });
  if (refused.length > 0) {
    throw new WorkerStartError(
      `quota pools have no limits set and none could be read from Service Quotas: ${refused.join("; ")}; set rpm and tpm in LABELQ_POOLS (or LABELQ_QUOTA_RPM/TPM), or allow servicequotas:ListServiceQuotas`,
    );
  }
  // Read anyway: a pool without a tpd takes the account's daily quota too (the day budget then holds it ahead of Bedrock).
  return { ...config, limiter: { ...config.limiter, pools: withAccountDays(filled, rows) } };
}
