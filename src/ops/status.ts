import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
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
