import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { AwsClients } from "../../adapters/aws-clients.ts";
import { type BulkStore, FINAL_INTAKE_STATES, type IntakeRecord } from "../../core/bulk/bulk-store.ts";
import { DynamoBulkStore } from "../../adapters/dynamodb/dynamo-bulk-store.ts";
import type { Config } from "../../core/config/config.ts";
import { modelCatalogueFor } from "../worker/worker.ts";
import { parsePrometheusText, type Sample, sumOf } from "./prometheus-text.ts";

export interface QueueDepth {
  name: string;
  url: string;
  visible: number;
  inFlight: number;
  delayed: number;
  error?: string;
}

/** Approximate depths of the given queues (SQS reports them eventually consistent). */
export async function queueDepths(sqs: SQSClient, queues: Record<string, string | undefined>): Promise<QueueDepth[]> {
  const named = Object.entries(queues).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== "");
  // In parallel: a one-shot status waits for the slowest queue, not for the sum of them.
  return Promise.all(
    named.map(async ([name, url]): Promise<QueueDepth> => {
      try {
        const a = await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
          }),
        );
        const n = (k: string) => Number(a.Attributes?.[k as keyof typeof a.Attributes] ?? 0);
        return { name, url, visible: n("ApproximateNumberOfMessages"), inFlight: n("ApproximateNumberOfMessagesNotVisible"), delayed: n("ApproximateNumberOfMessagesDelayed") };
      } catch (error) {
        return { name, url, visible: 0, inFlight: 0, delayed: 0, error: (error as Error).message };
      }
    }),
  );
}

/** Scrape a worker's /metrics; undefined when it does not answer. */
export async function scrapeMetrics(url: string): Promise<Sample[] | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    return res.ok ? parsePrometheusText(await res.text()) : undefined;
  } catch {
    return undefined;
  }
}

export interface FlowRates {
  batchesPerMin: number;
  textsPerMin: number;
  itemErrorShare: number;
  throttledShare: number;
  dlqPerMin: number;
  costUsdPerHour: number;
  inFlight: number;
}

/** Rates between two scrapes `seconds` apart. */
export function flowRates(before: readonly Sample[], after: readonly Sample[], seconds: number): FlowRates {
  const d = (name: string, where: Record<string, string> = {}) => Math.max(0, sumOf(after, name, where) - sumOf(before, name, where));
  const texts = d("labelq_texts_total");
  const calls = d("labelq_model_calls_total");
  return {
    batchesPerMin: (d("labelq_batches_total", { outcome: "published" }) * 60) / seconds,
    textsPerMin: (texts * 60) / seconds,
    itemErrorShare: texts > 0 ? d("labelq_texts_total", { result: "error" }) / texts : 0,
    throttledShare: calls > 0 ? d("labelq_model_calls_total", { outcome: "throttled" }) / calls : 0,
    dlqPerMin: (d("labelq_dlq_sends_total") * 60) / seconds,
    costUsdPerHour: (d("labelq_cost_usd_total") * 3600) / seconds,
    inFlight: sumOf(after, "labelq_inflight_batches"),
  };
}

/** One model's batches waiting to be gathered into a bulk job. */
export interface Gathering {
  model: string;
  batches: number;
  texts: number;
  /** When the oldest of them was taken off SQS: its gather time runs from then. */
  oldestReceivedAt: string;
}

/** Where the bulk path's unfinished batches are, from its records (no texts). */
export interface BulkBacklog {
  /** Waiting for a job, per model with any. */
  gathering: Gathering[];
  /** In a job being assembled, submitted or run by Bedrock. */
  inJobs: { batches: number; jobs: number };
  /** In a job that ended, while its output is read and the batches published or handed off. */
  collecting: { batches: number; jobs: number };
  /** Taken from gathering to go live or to the DLQ, the send not yet confirmed. */
  handingOff: number;
}

/**
 * Count the bulk path's unfinished batches. `models` are the aliases that can have batches waiting
 * (those with batch inference): waiting batches are kept per model, so each is asked for.
 */
export async function bulkBacklog(store: Pick<BulkStore, "pending" | "jobs" | "batchesOf" | "handingOff">, models: readonly string[]): Promise<BulkBacklog> {
  const [pending, jobs, handingOff] = await Promise.all([Promise.all(models.map((m) => store.pending(m))), store.jobs(), store.handingOff()]);
  const gathering = pending.filter((rows) => rows.length > 0).map((rows) => gatheringOf(rows));
  const backlog: BulkBacklog = { gathering, inJobs: { batches: 0, jobs: 0 }, collecting: { batches: 0, jobs: 0 }, handingOff: handingOff.length };
  const open = jobs.filter((j) => j.state !== "done");
  const batches = await Promise.all(open.map((j) => store.batchesOf(j.jobKey)));
  open.forEach((job, k) => {
    const unfinished = batches[k]!.filter((b) => !FINAL_INTAKE_STATES.includes(b.state)).length;
    const where = job.state === "collecting" ? backlog.collecting : backlog.inJobs;
    where.jobs += 1;
    where.batches += unfinished;
  });
  return backlog;
}

function gatheringOf(rows: readonly IntakeRecord[]): Gathering {
  const oldest = rows.reduce((a, b) => (b.receivedAt < a ? b.receivedAt : a), rows[0]!.receivedAt);
  return { model: rows[0]!.model, batches: rows.length, texts: rows.reduce((n, r) => n + r.request.items.length, 0), oldestReceivedAt: oldest };
}

/** The model aliases whose batches can wait for a bulk job: those with batch inference in the configured catalogue. */
export function bulkModelAliases(config: Pick<Config, "region" | "models" | "limiter">): string[] {
  return modelCatalogueFor(config)
    .models.filter((m) => m.batch !== undefined)
    .map((m) => m.alias);
}

/** The bulk path's backlog from its table, as the configuration names it. */
export async function readBulkBacklog(config: Config, clients: Pick<AwsClients, "dynamo">, table: string): Promise<BulkBacklog> {
  const store = new DynamoBulkStore(clients.dynamo, table, { recordTtlDays: config.store.batchRecordTtlDays });
  return bulkBacklog(store, bulkModelAliases(config));
}
