import type { Command } from "commander";
import { setTimeout as sleep } from "node:timers/promises";
import { createAwsClients } from "../aws-clients.ts";
import { flowRates, type FlowRates, type QueueDepth, queueDepths, scrapeMetrics } from "../ops/status.ts";
import { type Sample, sumOf } from "../ops/prometheus-text.ts";
import { configFrom } from "./config-from-flags.ts";
import { positiveNumberArg } from "./numeric-flags.ts";

/** Add `labelq status`: queue depths and a worker's throughput from its /metrics. */
export function registerStatusCommand(program: Command): void {
  program
    .command("status")
    .description("Queue depths (visible, in flight, delayed) of the requests, results and dead-letter queues, and a worker's throughput and error rate from its /metrics.")
    .option("--metrics-url <url>", "a worker's metrics endpoint (default http://127.0.0.1:$LABELQ_HTTP_PORT/metrics)")
    .option("--interval <seconds>", "with --watch: seconds between refreshes, over which rates are computed", positiveNumberArg("seconds"), 5)
    .option("--watch", "refresh every --interval seconds until interrupted, with rates")
    .action(async (o: { metricsUrl?: string; interval: number; watch?: boolean }) => {
      const config = configFrom({});
      const clients = createAwsClients(config);
      const url = o.metricsUrl ?? `http://127.0.0.1:${config.http.port}/metrics`;
      const queues = { requests: config.queues.requests, results: config.queues.results, dlq: config.queues.dlq };
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      if (o.watch) process.once("SIGINT", onSignal);
      try {
        // The first screen at once; rates from the second on, over the interval between two scrapes.
        let before: Sample[] | undefined;
        for (let first = true; first || !stop.signal.aborted; first = false) {
          const [after, depths] = await Promise.all([scrapeMetrics(url), queueDepths(clients.sqs, queues)]);
          const rates = before && after ? flowRates(before, after, o.interval) : undefined;
          if (o.watch && process.stdout.isTTY) process.stdout.write("\x1b[2J\x1b[H");
          process.stdout.write(`${new Date().toISOString()}\n${formatStatus(depths, rates, url, after, o.watch ? o.interval : undefined)}\n`);
          if (!o.watch) break;
          before = after;
          await sleep(o.interval * 1000, undefined, { signal: stop.signal }).catch(() => undefined);
        }
      } finally {
        process.off("SIGINT", onSignal);
        clients.destroy();
      }
    });
}

/**
 * Status as terminal lines. Without rates (a one-shot status, or the first screen of --watch)
 * the worker line shows what one scrape can: in flight and the totals since it started.
 */
export function formatStatus(depths: readonly QueueDepth[], rates: FlowRates | undefined, metricsUrl: string, totals: Sample[] | undefined, watchIntervalS?: number): string {
  const lines = ["queue      visible  in flight  delayed"];
  for (const q of depths) {
    lines.push(q.error ? `${q.name.padEnd(9)}  unreachable: ${q.error}` : `${q.name.padEnd(9)}  ${String(q.visible).padStart(7)}  ${String(q.inFlight).padStart(9)}  ${String(q.delayed).padStart(7)}`);
  }
  for (const name of ["requests", "results", "dlq"]) {
    if (!depths.some((q) => q.name === name)) lines.push(`${name.padEnd(9)}  not configured (${QUEUE_VARIABLES[name]})`);
  }
  lines.push("");
  if (!totals) {
    lines.push(`metrics: ${metricsUrl} did not answer (start workers with LABELQ_HTTP_PORT, or pass --metrics-url)`);
    return lines.join("\n");
  }
  if (rates) {
    lines.push(
      `worker ${metricsUrl}: in flight ${rates.inFlight}  batches/min ${rates.batchesPerMin.toFixed(1)}  texts/min ${rates.textsPerMin.toFixed(0)}  item errors ${(100 * rates.itemErrorShare).toFixed(1)}%  throttled calls ${(100 * rates.throttledShare).toFixed(1)}%  DLQ/min ${rates.dlqPerMin.toFixed(1)}  cost $${rates.costUsdPerHour.toFixed(2)}/h`,
    );
  } else {
    lines.push(
      `worker ${metricsUrl}: in flight ${sumOf(totals, "labelq_inflight_batches")}  (rates ${watchIntervalS === undefined ? "with --watch" : `in ${watchIntervalS} s`})`,
    );
  }
  lines.push(`since start: batches ${sumOf(totals, "labelq_batches_total", { outcome: "published" })}  texts ${sumOf(totals, "labelq_texts_total")}  cost $${sumOf(totals, "labelq_cost_usd_total").toFixed(4)}`);
  return lines.join("\n");
}

const QUEUE_VARIABLES: Record<string, string> = { requests: "LABELQ_REQUESTS_QUEUE_URL", results: "LABELQ_RESULTS_QUEUE_URL", dlq: "LABELQ_DLQ_URL" };
