// Benchmark (not a test): the label cache's hit path against the cold path, in one run on
// one machine, so the ratio is what counts. Prints a Markdown table for docs/benchmarks.md.
//   npm run bench:cache [-- --texts 500 --concurrency 8 --latency-ms 300 --per-token-ms 2]
//   npm run bench:cache -- --min-ratio 10     exits 1 when the hit path is under 10x the cold path
//   npm run bench:cache -- --stack inline      the emulators in the bench's process (default: a process of their own)
import { parseArgs } from "node:util";
import pino from "pino";
import { createAwsClients } from "../src/adapters/aws-clients.ts";
import { loadConfig } from "../src/core/config/config.ts";
import type { LabelResult } from "../src/core/contracts/result.ts";
import { buildBatches } from "../src/app/producer/build-batches.ts";
import { collectResults } from "../src/app/producer/collect-results.ts";
import { readTexts } from "../src/app/producer/read-texts.ts";
import { sendRequests } from "../src/app/producer/send-requests.ts";
import { createWorker } from "../src/app/worker/worker.ts";
import { startBenchStack, type StackPlacement } from "./support/bench-stack.ts";
import { benchCommit } from "./support/bench-commit.ts";

const { values } = parseArgs({
  options: {
    texts: { type: "string", default: "500" },
    concurrency: { type: "string", default: "8" },
    "latency-ms": { type: "string", default: "300" },
    "per-token-ms": { type: "string", default: "2" },
    "min-ratio": { type: "string" },
    // The embedded stack configures the bulk path; "off" measures the live path without its router.
    bulk: { type: "string", default: "on" },
    // "process": the embedded stack runs in a child process, as SQS, DynamoDB and Bedrock run
    // outside the worker on AWS; "inline": in this process, sharing its CPU with the worker.
    stack: { type: "string", default: "process" },
  },
});
process.env.AWS_ACCESS_KEY_ID ??= "test";
process.env.AWS_SECRET_ACCESS_KEY ??= "test";

// The emulator's latency model: a fixed overhead plus time per output token, like a hosted model.
const latency = { fixedMs: Number(values["latency-ms"]), perOutputTokenMs: Number(values["per-token-ms"]) };
if (values.stack !== "process" && values.stack !== "inline") throw new Error(`--stack must be process or inline, not ${values.stack}`);
const placement: StackPlacement = values.stack;
const stack = await startBenchStack(placement, { latency });
const config = loadConfig({ ...stack.env, LABELQ_WAIT_TIME_S: "1", LABELQ_CONCURRENCY: values.concurrency, LOG_LEVEL: "silent", ...(values.bulk === "off" ? { LABELQ_BULK_TABLE: "off" } : {}) });
const clients = createAwsClients(config);
const worker = createWorker(config, clients, pino({ level: "silent" }));
worker.pool.start();

const sample = await readTexts("samples/product-feedback.jsonl");
const wanted = Number(values.texts);
// Distinct texts: repeat the sample with a suffix so every text is its own cache entry.
const texts = Array.from({ length: wanted }, (_, k) => ({ id: `t${k}`, text: `${sample[k % sample.length]!.text} [#${Math.floor(k / sample.length)}]` }));

async function run(label: string) {
  const before = worker.cache!.stats();
  const calls = await stack.modelCalls();
  const requests = buildBatches(texts, { batchSize: 50, prefix: `bench-${label}-${Date.now()}` });
  const cpu = process.cpuUsage();
  const started = performance.now();
  await sendRequests(clients.sqs, stack.queues.requests, requests);
  const results: LabelResult[] = [];
  await collectResults(clients.sqs, { queueUrl: stack.queues.results, batches: requests.length, batchIds: new Set(requests.map((r) => r.batchId)), timeoutMs: 600_000, onResult: (r) => void results.push(r) });
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const after = worker.cache!.stats();
  return {
    label,
    seconds,
    textsPerSecond: wanted / seconds,
    // This process's CPU (worker, producer and collector; with --stack process, not the emulators) per batch of 50.
    cpuMsPerBatch: (used.user + used.system) / 1000 / requests.length,
    modelCalls: (await stack.modelCalls()) - calls,
    cacheHits: results.reduce((n, r) => n + r.usage.cacheHits, 0),
    rcuPer1k: ((after.readCapacityUnits - before.readCapacityUnits) * 1000) / wanted,
    wcuPer1k: ((after.writeCapacityUnits - before.writeCapacityUnits) * 1000) / wanted,
  };
}

const cold = await run("cold");
const warm = await run("warm");
await worker.close();
clients.destroy();
await stack.close();

const commit = benchCommit();
console.log(`commit ${commit}, ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${wanted} texts in batches of 50, concurrency ${values.concurrency}, emulator latency ${latency.fixedMs} ms + ${latency.perOutputTokenMs} ms/output token, bulk path ${values.bulk}, stack ${placement === "process" ? "in a process of its own" : "in the bench's process"}\n`);
console.log("| path | wall s | texts/s | bench process CPU ms / batch | model calls | cache hits | DynamoDB RCU / 1k texts | WCU / 1k texts |");
console.log("|---|---|---|---|---|---|---|---|");
for (const r of [cold, warm]) {
  console.log(`| ${r.label} | ${r.seconds.toFixed(2)} | ${r.textsPerSecond.toFixed(0)} | ${r.cpuMsPerBatch.toFixed(1)} | ${r.modelCalls} | ${r.cacheHits} | ${r.rcuPer1k.toFixed(0)} | ${r.wcuPer1k.toFixed(0)} |`);
}
console.log(`\nhit path / cold path throughput: ${(warm.textsPerSecond / cold.textsPerSecond).toFixed(1)}x`);
const ratio = warm.textsPerSecond / cold.textsPerSecond;
if (values["min-ratio"] !== undefined && !(ratio >= Number(values["min-ratio"]))) {
  console.error(`hit path collapsed: ${ratio.toFixed(1)}x the cold path, under ${values["min-ratio"]}x`);
  process.exitCode = 1;
}
