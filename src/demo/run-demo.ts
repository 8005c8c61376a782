import fs from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import { createAwsClients } from "../aws-clients.ts";
import { loadConfig } from "../config/config.ts";
import type { LabelResult } from "../contracts/result.ts";
import type { BedrockEmulatorOptions } from "../local/bedrock-emulator/index.ts";
import { startLocalStack } from "../local/local-stack.ts";
import { buildBatches } from "../producer/build-batches.ts";
import { collectResults } from "../producer/collect-results.ts";
import { readTexts } from "../producer/read-texts.ts";
import { sendRequests } from "../producer/send-requests.ts";
import { createWorker } from "../worker.ts";
import { formatSummary, summarizeResults } from "./summarize-results.ts";

export interface DemoOptions {
  textsFile: string;
  outFile: string;
  batchSize: number;
  /** The process environment: labelq settings in it apply, the local stack's endpoints win. */
  env: Record<string, string | undefined>;
  logger: Logger;
  timeoutMs: number;
  /** Bedrock emulator settings: latency, quota, faults. */
  emulator: Omit<BedrockEmulatorOptions, "port" | "host" | "logger">;
  write: (line: string) => void;
}

/**
 * The whole pipeline on the embedded stack in this process: enqueue a sample, let a worker pool
 * label it through the Bedrock emulator, collect every result, print a summary, write JSONL.
 */
export async function runDemo(options: DemoOptions): Promise<{ results: LabelResult[]; outFile: string }> {
  const started = Date.now();
  const stack = await startLocalStack({ emulator: { ...options.emulator, logger: (line) => options.logger.info(line) } });
  const config = loadConfig({ LABELQ_WAIT_TIME_S: "1", ...options.env, ...stack.env });
  const clients = createAwsClients(config);
  const worker = createWorker(config, clients, options.logger);
  try {
    worker.pool.start();
    const texts = await readTexts(options.textsFile);
    const requests = buildBatches(texts, { batchSize: options.batchSize, prefix: `demo-${new Date().toISOString().replace(/[:.]/g, "-")}` });
    await sendRequests(clients.sqs, stack.queues.requests, requests);
    options.write(`enqueued ${texts.length} texts as ${requests.length} batches of up to ${options.batchSize}; ${config.worker.concurrency} workers labelling...`);

    const results: LabelResult[] = [];
    await collectResults(clients.sqs, {
      queueUrl: stack.queues.results,
      batches: requests.length,
      batchIds: new Set(requests.map((r) => r.batchId)),
      timeoutMs: options.timeoutMs,
      onResult: (r) => void results.push(r),
    });
    if (results.length < requests.length) {
      throw new Error(`only ${results.length} of ${requests.length} batch results arrived within ${options.timeoutMs / 1000} s`);
    }
    const wallMs = Date.now() - started;
    await fs.mkdir(path.dirname(options.outFile), { recursive: true });
    await fs.writeFile(options.outFile, results.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const stats = stack.emulator.stats();
    options.write(
      formatSummary(summarizeResults(results), wallMs, [
        `emulator calls ${stats.calls} (throttled ${stats.throttled})`,
        "NOTE: labels come from the Bedrock emulator, a test double with a simulated, rule-based classifier, not a language model.",
      ]),
    );
    options.write(`\nresults: ${options.outFile}`);
    return { results, outFile: options.outFile };
  } finally {
    await worker.close();
    clients.destroy();
    await stack.close();
  }
}
