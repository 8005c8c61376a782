import type { Command } from "commander";
import { setTimeout as sleep } from "node:timers/promises";
import { type AwsClients, createAwsClients } from "../adapters/aws-clients.ts";
import type { Config } from "../core/config/config.ts";
import { type BulkBacklog, flowRates, type FlowRates, type QueueDepth, queueDepths, readBulkBacklog, scrapeMetrics } from "../app/ops/status.ts";
import { type Sample, sumOf } from "../app/ops/prometheus-text.ts";
import { configFrom } from "./config-from-flags.ts";
import { describeError } from "./describe-error.ts";
import { positiveNumberArg } from "./numeric-flags.ts";

/** Add `labelq status`: queue depths and a worker's throughput from its /metrics. */
export function registerStatusCommand(program: Command): void {
  program
    .command("status")
    .description(
      "Queue depths (visible, in flight, delayed) of the requests, results and dead-letter queues, the bulk path's batches (gathering, in jobs, being collected), and a worker's throughput and error rate from its /metrics.",
    )
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
          const [after, depths, bulk] = await Promise.all([scrapeMetrics(url), queueDepths(clients.sqs, queues), bulkStatus(config, clients)]);
          const rates = before && after ? flowRates(before, after, o.interval) : undefined;
          if (o.watch && process.stdout.isTTY) process.stdout.write("\x1b[2J\x1b[H");
          process.stdout.write(`${new Date().toISOString()}\n${formatStatus(depths, rates, url, after, o.watch ? o.interval : undefined, bulk)}\n`);
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

/** What status can say of the bulk path: off in this configuration, its backlog, or why it could not be read. */
export type BulkStatus = { kind: "off"; why: string } | { kind: "backlog"; backlog: BulkBacklog } | { kind: "unreadable"; why: string };

async function bulkStatus(config: Config, clients: AwsClients): Promise<BulkStatus> {
  if (!config.bulk.table) return { kind: "off", why: "LABELQ_BULK_TABLE=off" };
  if (!config.bulk.enabled) return { kind: "off", why: "LABELQ_BULK_BUCKET and LABELQ_BULK_ROLE_ARN not set" };
  try {
    return { kind: "backlog", backlog: await readBulkBacklog(config, clients, config.bulk.table) };
  } catch (error) {
    // Status still shows the queues: one unreadable part is one line, not a failed command.
    if (causes(error).some((e) => e.name === "ResourceNotFoundException")) {
      return { kind: "unreadable", why: `no table "${config.bulk.table}" (labelq tables create makes it)` };
    }
    return { kind: "unreadable", why: describeError(error) };
  }
}

function causes(error: unknown): Error[] {
  const out: Error[] = [];
  for (let e = error; e instanceof Error && out.length < 5; e = e.cause) out.push(e);
  return out;
}

/** The bulk path in one line: where its unfinished batches are. */
export function formatBulkStatus(bulk: BulkStatus): string {
  if (bulk.kind === "off") return `bulk: off (${bulk.why})`;
  if (bulk.kind === "unreadable") return `bulk: unreadable: ${bulk.why}`;
  const b = bulk.backlog;
  const batches = b.gathering.reduce((n, g) => n + g.batches, 0);
  const texts = b.gathering.reduce((n, g) => n + g.texts, 0);
  return [
    `bulk: ${batches} batches gathering (${texts} texts)`,
    `${b.inJobs.batches} in jobs (${b.inJobs.jobs} open)`,
    `${b.collecting.batches} being collected (${b.collecting.jobs} ${b.collecting.jobs === 1 ? "job" : "jobs"})`,
    `${b.handingOff} being handed off`,
  ].join(", ");
}

/**
 * Status as terminal lines. Without rates (a one-shot status, or the first screen of --watch)
 * the worker line shows what one scrape can: in flight and the totals since it started.
 */
export function formatStatus(
  depths: readonly QueueDepth[],
  rates: FlowRates | undefined,
  metricsUrl: string,
  totals: Sample[] | undefined,
  watchIntervalS?: number,
  bulk?: BulkStatus,
): string {
  const lines = ["queue      visible  in flight  delayed"];
  for (const q of depths) {
    lines.push(q.error ? `${q.name.padEnd(9)}  unreachable: ${q.error}` : `${q.name.padEnd(9)}  ${String(q.visible).padStart(7)}  ${String(q.inFlight).padStart(9)}  ${String(q.delayed).padStart(7)}`);
  }
  for (const name of ["requests", "results", "dlq"]) {
    if (!depths.some((q) => q.name === name)) lines.push(`${name.padEnd(9)}  not configured (${QUEUE_VARIABLES[name]})`);
  }
  if (bulk) lines.push(formatBulkStatus(bulk));
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
