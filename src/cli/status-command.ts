import type { Command } from "commander";
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
    .option("--interval <seconds>", "seconds between the two scrapes rates are computed from", positiveNumberArg("seconds"), 5)
    .option("--watch", "refresh every --interval seconds until interrupted")
    .action(async (o: { metricsUrl?: string; interval: number; watch?: boolean }) => {
      const config = configFrom({});
      const clients = createAwsClients(config);
      const url = o.metricsUrl ?? `http://127.0.0.1:${config.http.port}/metrics`;
      const seconds = o.interval;
      try {
        let before = await scrapeMetrics(url);
        do {
          await new Promise((r) => setTimeout(r, seconds * 1000));
          const after = await scrapeMetrics(url);
          const depths = await queueDepths(clients.sqs, { requests: config.queues.requests, results: config.queues.results, dlq: config.queues.dlq });
          const rates = before && after ? flowRates(before, after, seconds) : undefined;
          if (o.watch && process.stdout.isTTY) process.stdout.write("\x1b[2J\x1b[H");
          process.stdout.write(`${new Date().toISOString()}\n${formatStatus(depths, rates, url, after)}\n`);
          before = after;
        } while (o.watch);
      } finally {
        clients.destroy();
      }
    });
}

/** Status as terminal lines. */
export function formatStatus(depths: readonly QueueDepth[], rates: FlowRates | undefined, metricsUrl: string, totals: Sample[] | undefined): string {
  const lines = ["queue      visible  in flight  delayed"];
  for (const q of depths) {
    lines.push(q.error ? `${q.name.padEnd(9)}  unreachable: ${q.error}` : `${q.name.padEnd(9)}  ${String(q.visible).padStart(7)}  ${String(q.inFlight).padStart(9)}  ${String(q.delayed).padStart(7)}`);
  }
  lines.push("");
  if (!rates || !totals) {
    lines.push(`metrics: ${metricsUrl} did not answer (start workers with LABELQ_HTTP_PORT, or pass --metrics-url)`);
  } else {
    lines.push(
      `worker ${metricsUrl}: in flight ${rates.inFlight}  batches/min ${rates.batchesPerMin.toFixed(1)}  texts/min ${rates.textsPerMin.toFixed(0)}  item errors ${(100 * rates.itemErrorShare).toFixed(1)}%  throttled calls ${(100 * rates.throttledShare).toFixed(1)}%  DLQ/min ${rates.dlqPerMin.toFixed(1)}  cost $${rates.costUsdPerHour.toFixed(2)}/h`,
      `since start: batches ${sumOf(totals, "labelq_batches_total", { outcome: "published" })}  texts ${sumOf(totals, "labelq_texts_total")}  cost $${sumOf(totals, "labelq_cost_usd_total").toFixed(4)}`,
    );
  }
  return lines.join("\n");
}
