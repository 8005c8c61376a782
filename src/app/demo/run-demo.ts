import fs from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import { type AwsClients, createAwsClients } from "../../adapters/aws-clients.ts";
import { type Config, loadConfig, requireQueue } from "../../core/config/config.ts";
import type { LabelResult } from "../../core/contracts/result.ts";
import type { BedrockEmulatorOptions } from "@labelq/bedrock-emulator";
import { ConfigError, QueueError } from "../../core/errors/errors.ts";
import { costUsd, type ModelSpec } from "../../core/models/model-registry.ts";
import { type LocalStack, startLocalStack } from "../local/local-stack.ts";
import { buildBatches } from "../producer/build-batches.ts";
import { DynamoBulkStore } from "../../adapters/dynamodb/dynamo-bulk-store.ts";
import { collectResults, deadLetterLine, shortfall } from "../producer/collect-results.ts";
import { bulkProgress } from "./bulk-progress.ts";
import { type InputText, readTexts } from "../producer/read-texts.ts";
import { screenTexts, skippedLines } from "../producer/screen-texts.ts";
import { sendRequests } from "../producer/send-requests.ts";
import { createWorker, modelCatalogueFor, type Worker } from "../worker/worker.ts";
import { formatSummary, summarizeResults } from "./summarize-results.ts";

export interface DemoOptions {
  textsFile: string;
  /** Results of the last run go here; earlier runs get `-run<N>` before the extension. */
  outFile: string;
  batchSize: number;
  /** Runs over the same texts on the same stack: the second shows the label cache at work. */
  runs: number;
  /** Use the stack and workers the configuration names (e.g. a running `labelq local`) instead of starting them. */
  external: boolean;
  /** The process environment: labelq settings in it apply, the local stack's endpoints win. */
  env: Record<string, string | undefined>;
  logger: Logger;
  timeoutMs: number;
  /** Bedrock emulator settings: latency, quota, faults. */
  emulator: Omit<BedrockEmulatorOptions, "port" | "host" | "logger" | "s3">;
  /** Label through the bulk path (batch inference jobs on the emulator) and compare its cost with live. */
  bulk?: boolean;
  /** Longest text sent (LABELQ_MAX_TEXT_CHARS); longer, empty or blank ones are listed and left out, as `enqueue` does. */
  maxTextChars: number;
  write: (line: string) => void;
}

/**
 * The whole pipeline: enqueue a sample, let a worker pool label it through the Bedrock
 * emulator, collect every result, print a summary, write JSONL. By default the embedded stack
 * and the workers run in this process.
 */
export async function runDemo(options: DemoOptions): Promise<{ runs: LabelResult[][]; outFiles: string[] }> {
  // Read first: a bad file ends the demo before any server starts.
  const screened = screenTexts(await readTexts(options.textsFile), options.maxTextChars, options.textsFile);
  for (const line of skippedLines(screened, "labelling")) options.write(line);
  const texts = screened.send;
  let stack: LocalStack | undefined;
  let clients: AwsClients | undefined;
  let worker: Worker | undefined;
  const runs: LabelResult[][] = [];
  const outFiles: string[] = [];
  try {
    let config: Config;
    if (options.external) {
      config = loadConfig(options.env);
    } else {
      const jobs = options.bulk ? { jobs: { stepMs: 100, quotas: { minRecordsPerJob: 1 } } } : {};
      stack = await startLocalStack({ emulator: { ...options.emulator, ...jobs, logger: (line) => options.logger.info(line) } });
      // Bulk: a pass a second and a short gather time, so the sample makes one job within seconds.
      const bulkEnv = options.bulk ? { LABELQ_BULK_POLL_S: "1", LABELQ_BULK_GATHER_S: "5", LABELQ_BULK_MIN_RECORDS: "1" } : {};
      config = loadConfig({ LABELQ_WAIT_TIME_S: "1", ...options.env, ...stack.env, ...bulkEnv });
    }
    clients = createAwsClients(config);
    worker = stack ? createWorker(config, clients, options.logger) : undefined;
    worker?.pool.start();
    if (options.bulk) {
      if (!worker?.bulk && !options.external) throw new ConfigError(["demo --bulk: the bulk path is not configured"]);
      worker?.bulk?.start();
    }
    for (let run = 1; run <= options.runs; run++) {
      const outFile = run === options.runs ? options.outFile : options.outFile.replace(/(\.[^./]+)?$/, `-run${run}$1`);
      if (options.runs > 1) options.write(`\n=== run ${run} of ${options.runs} ===`);
      const started = Date.now();
      const results = await oneRun(options, config, clients, texts, run);
      const wallMs = Date.now() - started;
      await fs.mkdir(path.dirname(outFile), { recursive: true });
      await fs.writeFile(outFile, results.map((r) => JSON.stringify(r)).join("\n") + "\n");
      const stats = stack?.emulator.stats();
      const bulkLines = options.bulk ? bulkComparison(results, modelCatalogueFor(config).find(config.models.default), stack) : [];
      options.write(
        formatSummary(summarizeResults(results), wallMs, [
          ...(stats ? [`emulator calls so far ${stats.calls} (throttled ${stats.throttled})`] : []),
          ...bulkLines,
          "NOTE: labels come from the Bedrock emulator, a test double with a simulated, rule-based classifier, not a language model.",
        ]),
      );
      options.write(`\nresults: ${outFile}`);
      runs.push(results);
      outFiles.push(outFile);
    }
    return { runs, outFiles };
  } finally {
    // Every step runs, whatever failed: a demo that stops must not hang on a server left open.
    await worker?.close().catch(() => undefined);
    clients?.destroy();
    await stack?.close();
  }
}

/** What labelling a sample once through the queues needs besides the stack. */
export type QueueRunOptions = Pick<DemoOptions, "batchSize" | "bulk" | "timeoutMs" | "external" | "write">;

/**
 * Enqueue `texts` as batches, wait for every result on the results queue (a dead-lettered batch
 * is said at once, with its reason), and return them; a shortfall throws.
 */
export async function oneRun(
  options: QueueRunOptions,
  config: Config,
  clients: AwsClients,
  texts: readonly InputText[],
  run: number,
): Promise<LabelResult[]> {
  const prefix = `demo-${new Date().toISOString().replace(/[:.]/g, "-")}-r${run}`;
  const requests = buildBatches(texts, { batchSize: options.batchSize, prefix }).map((r) => (options.bulk ? { ...r, mode: "bulk" as const } : r));
  await sendRequests(clients.sqs, requireQueue(config, "requests"), requests);
  options.write(`enqueued ${texts.length} texts as ${requests.length} batches of up to ${options.batchSize}${options.bulk ? ' with mode "bulk" (batch inference jobs)' : ""}; labelling...`);
  const results: LabelResult[] = [];
  const batchIds = new Set(requests.map((r) => r.batchId));
  const dlqUrl = config.queues.dlq;
  const bulkStore = options.bulk && config.bulk.table ? new DynamoBulkStore(clients.dynamo, config.bulk.table, { recordTtlDays: config.store.batchRecordTtlDays }) : undefined;
  const started = Date.now();
  const outcome = await collectResults(clients.sqs, {
    queueUrl: requireQueue(config, "results"),
    batchIds,
    timeoutMs: options.timeoutMs,
    onResult: (r) => void results.push(r),
    // A batch the worker dead-letters is said at once, with its reason: its result will never come.
    dlq: dlqUrl ? { url: dlqUrl, onDeadLettered: (entry) => options.write(deadLetterLine(entry)) } : undefined,
    onWaiting: {
      everyMs: options.bulk ? 5_000 : 10_000,
      call: async (awaited) => {
        const where = bulkStore ? await bulkProgress(bulkStore, awaited, { bulk: config.bulk, chunkSize: config.classify.chunkSize, catalogue: modelCatalogueFor(config) }).catch(() => undefined) : undefined;
        const waited = Math.round((Date.now() - started) / 1000);
        options.write(where ?? `waiting: ${results.length} of ${requests.length} batch results in after ${waited} s (timeout ${options.timeoutMs / 1000} s)`);
      },
    },
  });
  // The embedded stack, its DLQ with it, ends with the demo: replaying is for a stack that stays.
  const advice = options.external ? undefined : "the demo's stack ends with it, so fix the cause (the texts, or --emulator settings) and run the demo again";
  const why = shortfall(outcome, requests.length, options.timeoutMs / 1000, dlqUrl !== undefined, advice);
  if (why) throw new QueueError(why);
  return results;
}

/**
 * The bulk run's cost at batch prices beside what the same tokens cost live at on-demand prices,
 * per 1,000 texts, and the jobs the emulator ran (a test double: its token counts are simulated).
 */
function bulkComparison(results: readonly LabelResult[], model: ModelSpec | undefined, stack: LocalStack | undefined): string[] {
  const texts = results.reduce((n, r) => n + r.items.length, 0);
  const input = results.reduce((n, r) => n + r.usage.inputTokens, 0);
  const output = results.reduce((n, r) => n + r.usage.outputTokens, 0);
  const bulk = results.reduce((n, r) => n + r.usage.costUsd, 0);
  const per1k = (usd: number) => `$${((1000 * usd) / Math.max(1, texts)).toFixed(4)} per 1,000 texts`;
  const lines: string[] = [];
  if (model) {
    const live = costUsd(model, input, output);
    lines.push(
      `bulk (batch inference, ${model.alias}): $${bulk.toFixed(4)} at batch prices (${per1k(bulk)}); the same tokens live at on-demand prices: $${live.toFixed(4)} (${per1k(live)})`,
    );
  }
  const jobs = stack?.emulator.jobs.list() ?? [];
  if (jobs.length > 0) {
    const records = jobs.reduce((n, j) => n + (j.totalRecordCount ?? 0), 0);
    lines.push(
      `batch inference jobs on the emulator (a test double): ${jobs.length} (${jobs.map((j) => j.status).join(", ")}), ${records} records; Bedrock's default minimum is 100 records per job, lowered here for a small sample`,
    );
  }
  return lines;
}