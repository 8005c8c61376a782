// Benchmark (not a test): model calls per batch under each Bedrock emulator fault, and the
// resulting status, for one 50-text batch with the default settings (2 re-ask rounds,
// fallback to Claude). Prints a Markdown table.
//   npm run bench:faults
import pino from "pino";
import { createAwsClients } from "../src/adapters/aws-clients.ts";
import { loadConfig } from "../src/core/config/config.ts";
import { FAULT_KINDS, type FaultRule } from "@labelq/bedrock-emulator";
import { startLocalStack } from "../src/app/local/local-stack.ts";
import { buildBatches } from "../src/app/producer/build-batches.ts";
import { collectResults } from "../src/app/producer/collect-results.ts";
import { readTexts } from "../src/app/producer/read-texts.ts";
import { sendRequests } from "../src/app/producer/send-requests.ts";
import type { LabelResult } from "../src/core/contracts/result.ts";
import { createWorker } from "../src/app/worker/worker.ts";

process.env.AWS_ACCESS_KEY_ID ??= "test";
process.env.AWS_SECRET_ACCESS_KEY ??= "test";
const texts = (await readTexts("samples/product-feedback.jsonl")).slice(0, 50);

async function measure(faults: FaultRule[]): Promise<{ result: LabelResult | undefined; calls: number; dlq: boolean }> {
  const stack = await startLocalStack({ emulator: { faults } });
  const config = loadConfig({ ...stack.env, LABELQ_WAIT_TIME_S: "1", LABELQ_CACHE_TABLE: "off", LABELQ_MODEL_MAX_ATTEMPTS: "1", LOG_LEVEL: "silent" });
  const clients = createAwsClients(config);
  const worker = createWorker(config, clients, pino({ level: "silent" }));
  worker.pool.start();
  const [request] = buildBatches(texts, { batchSize: 50, prefix: `fault-${Date.now()}` });
  await sendRequests(clients.sqs, stack.queues.requests, [request!]);
  let result: LabelResult | undefined;
  await collectResults(clients.sqs, { queueUrl: stack.queues.results, batches: 1, timeoutMs: 20_000, onResult: (r) => void (result = r) });
  const calls = stack.emulator.stats().calls;
  await worker.close();
  clients.destroy();
  await stack.close();
  return { result, calls, dlq: result === undefined };
}

console.log("| fault (on the first answer only / on every answer) | model calls | status | items labelled | answered by |");
console.log("|---|---|---|---|---|");
const rows: [string, FaultRule[]][] = [["none", []]];
for (const kind of FAULT_KINDS) {
  if (kind === "validation") continue;
  rows.push([`${kind} (once)`, [{ kind, times: 1 }]]);
}
for (const kind of ["truncate", "missing-ids", "invalid-labels", "prose", "unavailable"] as const) {
  rows.push([`${kind} (every Llama answer)`, [{ kind, models: ["us.meta.llama3-3-70b-instruct-v1:0"] }]]);
}
for (const [name, faults] of rows) {
  const { result, calls } = await measure(faults);
  const labelled = result?.items.filter((i) => i.labels).length ?? 0;
  const models = [...new Set(result?.items.map((i) => i.model?.split(".").slice(1, 2).join("") ?? "-"))].join(", ");
  console.log(`| ${name} | ${calls} | ${result?.status ?? "not published"} | ${labelled}/50 | ${models} |`);
}
