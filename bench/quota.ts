// Benchmark (not a test): a naive client against labelq under one model quota, in one run on
// one machine. Every scenario gets its own embedded stack (fresh quota windows), the same
// Bedrock emulator quota and latency model, and a backlog of more work than the quota allows.
// Prints the parameters, a Markdown table for docs/benchmarks.md and writes the throughput chart.
// It says which quota binds (requests or tokens per minute) and reports usage of that one:
// each call's quota cost is measured (input + cache + output x burn-down, as the emulator
// settles it), so a tokens-bound account is not reported against its requests quota.
//   npm run bench:quota [-- --rpm 120 --tpm 2000000 --ramp 60 --steady 60 --scenarios naive,local,fleet --fleet 1,2,4]
//   npm run bench:quota -- --rpm 800 --tpm 300000 --texts-per-batch 50 --chart docs/quota-throughput-tpm.svg   (tokens bind)
// With --paced 0.8 the labelq scenarios get no backlog: a producer sends one batch at a time at
// that share of what the binding quota allows, after two lone batches on the idle stack, and the
// summary sets the p99 batch latency against the second lone batch's and against the model's own
// call time (the emulator's latency for the run's mean answer), and counts each process's calls.
//   npm run bench:quota -- --rpm 800 --tpm 300000 --texts-per-batch 50 --fixed-ms 1500 --paced 0.8 --scenarios fleet --fleet 1,2,4
// With --pools N a scenario runs one in-process worker over N quota pools (LABELQ_POOLS) in N
// Regions, each with the same emulator quota (the emulator keeps a window per Region), on N times
// the backlog; it prints each pool's share of its own quota beside the one-pool labelq row.
//   npm run bench:quota -- --scenarios local --pools 2 --ramp 30 --steady 60
// With naive among the scenarios, --pools N also runs the naive client over the N Regions in turn.
import { BedrockRuntimeClient, ConverseCommand } from "@aws-sdk/client-bedrock-runtime";
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { Redis } from "ioredis";
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createAwsClients } from "../src/adapters/aws-clients.ts";
import { loadConfig } from "../src/core/config/config.ts";
import type { LabelRequest } from "../src/core/contracts/request.ts";
import type { LabelResult } from "../src/core/contracts/result.ts";
import { findModel } from "../src/core/models/model-registry.ts";
import { promptTokens } from "../src/core/models/token-estimator.ts";
import type { EmulatorStats } from "@labelq/bedrock-emulator";
import { LOCAL_CREDENTIALS, type LocalStack, startLocalStack } from "../src/app/local/local-stack.ts";
import { createLogger } from "../src/core/observability/logger.ts";
import { buildBatches } from "../src/app/producer/build-batches.ts";
import { readTexts } from "../src/app/producer/read-texts.ts";
import { sendRequests } from "../src/app/producer/send-requests.ts";
import { PromptRegistry } from "../src/core/prompts/prompt-registry.ts";
import { renderUserMessage } from "../src/core/prompts/render-prompt.ts";
import { createWorker } from "../src/app/worker/worker.ts";
import { lineChartSvg } from "./quota-chart.ts";
import { benchCommit } from "./support/bench-commit.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    rpm: { type: "string", default: "120" },
    // High enough that requests per minute, not tokens, is the binding quota (~9,100 tokens per call of 10 texts).
    tpm: { type: "string", default: "2000000" },
    "fixed-ms": { type: "string", default: "400" },
    "per-token-ms": { type: "string", default: "1" },
    "texts-per-batch": { type: "string", default: "10" },
    // Backlog = demand x what the quota allows over a scenario's whole run.
    demand: { type: "string", default: "3" },
    ramp: { type: "string", default: "60" },
    // A whole number of minutes: a bursty client gets up to a full quota at the start of each rolling minute.
    steady: { type: "string", default: "60" },
    "naive-concurrency": { type: "string", default: "16" },
    concurrency: { type: "string", default: "16" },
    fleet: { type: "string", default: "1,2,4" },
    scenarios: { type: "string", default: "naive,local,fleet" },
    "redis-url": { type: "string", default: "redis://127.0.0.1:6379" },
    "stop-timeout": { type: "string", default: "10" },
    bucket: { type: "string", default: "10" },
    chart: { type: "string", default: "docs/quota-throughput.svg" },
    // Output tokens per text in labelq's answer format (lines: 37.8 measured by bench:tokens), for planning.
    "answer-tokens": { type: "string", default: "38" },
    paced: { type: "string" },
    pools: { type: "string", default: "0" },
  },
});
process.env.AWS_ACCESS_KEY_ID ??= "test";
process.env.AWS_SECRET_ACCESS_KEY ??= "test";

const P = {
  rpm: Number(values.rpm),
  tpm: Number(values.tpm),
  latency: { fixedMs: Number(values["fixed-ms"]), perOutputTokenMs: Number(values["per-token-ms"]) },
  textsPerBatch: Number(values["texts-per-batch"]),
  demand: Number(values.demand),
  rampS: Number(values.ramp),
  steadyS: Number(values.steady),
  naiveConcurrency: Number(values["naive-concurrency"]),
  concurrency: Number(values.concurrency),
  fleet: values.fleet.split(",").map(Number).filter((n) => n > 0),
  scenarios: new Set(values.scenarios.split(",").map((s) => s.trim())),
  redisUrl: values["redis-url"],
  stopTimeoutS: Number(values["stop-timeout"]),
  bucketS: Number(values.bucket),
  chart: values.chart,
  answerTokens: Number(values["answer-tokens"]),
  paced: values.paced === undefined ? undefined : Number(values.paced),
  pools: Number(values.pools),
};
/** The Regions of the --pools scenario, AWS_REGION's first (the local stack signs for us-east-1). */
const POOL_REGIONS = ["us-east-1", "us-west-2", "us-east-2", "us-west-1"];
if (P.pools > POOL_REGIONS.length) throw new Error(`--pools: at most ${POOL_REGIONS.length}`);
const durationS = P.rampS + P.steadyS;
const model = findModel("llama3.3-70b")!;
const sample = await readTexts(path.join(root, "samples/product-feedback.jsonl"));
const benchPrompt = await new PromptRegistry(path.join(root, "prompts")).resolve("product-feedback", "prod");

/**
 * What one call of a batch costs the tokens quota once settled: its input (Llama 3's tokenizer)
 * plus its answer (--answer-tokens per text: 38 in lines for this 25-dimension taxonomy, 107 in
 * compact JSON), times the model's burn-down rate. A planning estimate only: the
 * figures below measure each run's real cost from the emulator's usage.
 */
const plannedCallTokens =
  promptTokens(model, { system: benchPrompt.system, user: renderUserMessage(sample.slice(0, P.textsPerBatch).map((t) => t.text)) }) +
  P.textsPerBatch * P.answerTokens * model.outputBurnDown;
/** Calls per minute each quota allows; the smaller binds. */
const callsByRpm = P.rpm > 0 ? P.rpm : Infinity;
const callsByTpm = P.tpm > 0 ? P.tpm / plannedCallTokens : Infinity;
const binding: "requests" | "tokens" = callsByRpm <= callsByTpm ? "requests" : "tokens";
const plannedCallsPerMin = Math.min(callsByRpm, callsByTpm);
const batchesPerScenario = Math.ceil(((P.paced ?? P.demand) * plannedCallsPerMin * durationS) / 60) + 2;
/** Paced: ms between two batches sent by the producer. */
const pacedEveryMs = P.paced === undefined ? undefined : 60_000 / (P.paced * plannedCallsPerMin);
/** What the binding quota allows, in texts per minute (one call per batch: LABELQ_CHUNK_SIZE = batch size). */
const quotaTextsPerMin = plannedCallsPerMin * P.textsPerBatch;
if (P.steadyS % 60 !== 0) console.warn(`warning: --steady ${P.steadyS} is not a whole number of minutes; a bursty client is over- or under-counted`);

// ---------------------------------------------------------------------------------------------

interface Completion {
  /** ms since the scenario started, when the batch's result was complete. */
  at: number;
  /** The successful attempt: naive, the Converse call with its SDK retries; labelq, receive to result (limiter wait included). */
  latencyMs: number;
  texts: number;
}

interface Outcome {
  name: string;
  completions: Completion[];
  atRamp: EmulatorStats;
  atEnd: EmulatorStats;
  /** naive: Converse calls that failed after the SDK's retries (the batch went back on the list); labelq: deliveries that failed after labelq's retries (back on the queue). */
  failedAttempts: number;
  dlq: number | undefined;
  /** Batches enqueued but neither answered, nor still on the requests queue, nor in the DLQ. */
  unaccounted: number | undefined;
  itemErrors: number;
  /** Mean adaptive rate factor (share of the configured quota) over the steady window, sampled each second. */
  meanFactor?: number;
  minFactor?: number;
  /** Paced runs: the latency of one batch sent alone to the idle stack first. */
  loneMs?: number;
  /** Fleet runs: model calls made by each process (from its "batch labelled" log lines). */
  callsByProcess?: number[];
  /** How many pools' quota the scenario had (1 but for --pools): shares of the quota are of all of them. */
  quotaMultiple: number;
  /** Pool runs: each answered call, by the Region it was sent to, at ms since the start, with its quota cost. */
  poolCalls?: { pool: string; at: number; quotaTokens: number }[];
  notes: string[];
}

/** Distinct texts per scenario, so nothing is ever served twice; `multiple` quotas get that many times the backlog. */
function requestsFor(scenario: string, multiple = 1): LabelRequest[] {
  const texts = Array.from({ length: batchesPerScenario * multiple * P.textsPerBatch }, (_, k) => ({
    id: `t${k}`,
    text: `${sample[k % sample.length]!.text} [${scenario} #${k}]`,
  }));
  return buildBatches(texts, { batchSize: P.textsPerBatch, prefix: `quota-${scenario}-${Date.now()}` });
}

const startStack = () => startLocalStack({ emulator: { quota: { rpm: P.rpm, tpm: P.tpm }, latency: P.latency } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Emulator stats at the end of the ramp and at the end of the run, and the rate factor each second in between. */
function watch(stack: LocalStack, t0: number, factor: () => Promise<number | undefined>) {
  const factors: number[] = [];
  let atRamp: EmulatorStats | undefined;
  const rampTimer = setTimeout(() => (atRamp = stack.emulator.stats()), t0 + P.rampS * 1000 - Date.now());
  const sampler = setInterval(() => {
    if (Date.now() - t0 < P.rampS * 1000) return;
    factor().then(
      (f) => void (f !== undefined && factors.push(f)),
      () => undefined,
    );
  }, 1000);
  return {
    end(): { atRamp: EmulatorStats; atEnd: EmulatorStats; meanFactor?: number; minFactor?: number } {
      clearTimeout(rampTimer);
      clearInterval(sampler);
      const atEnd = stack.emulator.stats();
      return {
        atRamp: atRamp ?? atEnd,
        atEnd,
        meanFactor: factors.length > 0 ? factors.reduce((a, b) => a + b, 0) / factors.length : undefined,
        minFactor: factors.length > 0 ? Math.min(...factors) : undefined,
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// (a) naive: N loops of direct Converse calls, the SDK's default retries, no limiter. With
// `regions` (the --pools baseline) the loops take the Regions in turn, a client per Region, as a
// router with static, equal weights and no quota of its own does.

async function runNaive(regions?: readonly string[]): Promise<Outcome> {
  const stack = await startStack();
  const prompt = benchPrompt;
  const pooled = regions !== undefined;
  // As most users write it: the defaults (maxAttempts 3, standard retry mode).
  const clientsByRegion = (regions ?? [stack.region]).map((region) => ({
    region,
    client: new BedrockRuntimeClient({ region, endpoint: stack.endpoints.bedrock, credentials: LOCAL_CREDENTIALS }),
  }));
  const work = requestsFor(pooled ? `naive-pools${clientsByRegion.length}` : "naive", clientsByRegion.length).map((r) => r.items.map((it) => it.text));
  const completions: Completion[] = [];
  const calls: { pool: string; at: number; quotaTokens: number }[] = [];
  const errors = new Map<string, number>();
  let failed = 0;
  let turn = 0;
  const stop = new AbortController();
  const t0 = Date.now();
  const watcher = watch(stack, t0, () => Promise.resolve(undefined));
  const loop = async () => {
    while (!stop.signal.aborted) {
      const texts = work.shift();
      if (!texts) return;
      const { region, client } = clientsByRegion[turn++ % clientsByRegion.length]!;
      const started = performance.now();
      try {
        const out = await client.send(
          new ConverseCommand({
            modelId: model.modelId,
            system: [{ text: prompt.system }],
            messages: [{ role: "user", content: [{ text: renderUserMessage(texts) }] }],
            inferenceConfig: { maxTokens: model.maxOutputTokens, ...model.sampling.defaults },
          }),
          { abortSignal: stop.signal },
        );
        completions.push({ at: Date.now() - t0, latencyMs: performance.now() - started, texts: texts.length });
        calls.push({ pool: region, at: Date.now() - t0, quotaTokens: (out.usage?.inputTokens ?? 0) + (out.usage?.outputTokens ?? 0) * model.outputBurnDown });
      } catch (error) {
        if (stop.signal.aborted) return;
        failed += 1;
        const name = (error as Error).name;
        errors.set(name, (errors.get(name) ?? 0) + 1);
        // Retry the batch later: back to the end of the list.
        work.push(texts);
      }
    }
  };
  const concurrency = P.naiveConcurrency * clientsByRegion.length;
  const loops = Array.from({ length: concurrency }, loop);
  await sleep(t0 + durationS * 1000 - Date.now());
  const w = watcher.end();
  stop.abort();
  await Promise.all(loops);
  for (const c of clientsByRegion) c.client.destroy();
  await stack.close();
  return {
    name: pooled ? `naive, ${clientsByRegion.length} Regions in turn (${concurrency} concurrent calls, SDK retries)` : `naive (${P.naiveConcurrency} concurrent calls, SDK retries)`,
    completions,
    ...w,
    failedAttempts: failed,
    dlq: undefined,
    unaccounted: undefined,
    itemErrors: 0,
    quotaMultiple: clientsByRegion.length,
    ...(pooled ? { poolCalls: calls } : {}),
    notes: [`errors after SDK retries: ${[...errors].map(([k, v]) => `${k} ${v}`).join(", ") || "none"}`],
  };
}

// ---------------------------------------------------------------------------------------------
// (b), (c) labelq: the same backlog on the requests queue, results read from the results queue.

/** Environment for a labelq worker on this stack. */
function labelqEnv(stack: LocalStack, extra: Record<string, string>): Record<string, string> {
  return {
    ...stack.env,
    LABELQ_CACHE_TABLE: "off",
    LABELQ_BATCHES_TABLE: "off",
    LABELQ_CHUNK_SIZE: String(P.textsPerBatch),
    LABELQ_QUOTA_RPM: String(P.rpm),
    LABELQ_QUOTA_TPM: String(P.tpm),
    LABELQ_CONCURRENCY: String(P.concurrency),
    LABELQ_WAIT_TIME_S: "1",
    LABELQ_SHUTDOWN_TIMEOUT_S: String(P.stopTimeoutS),
    LOG_LEVEL: "warn",
    ...extra,
  };
}

/** Counts labelq's warn and error log lines by message: failed deliveries, DLQ sends, anything unexpected. */
class LogTally {
  readonly counts = new Map<string, { n: number; first: number; last: number }>();
  readonly raw: string[] = [];
  t0 = Date.now();
  line(text: string): void {
    if (text.trim() === "") return;
    try {
      const { msg, err, time } = JSON.parse(text) as { msg?: string; err?: { message?: string }; time?: number };
      const key = msg === "batch failed; will retry" || msg === "request sent to the DLQ" || !err?.message ? String(msg) : `${msg}: ${err.message.slice(0, 120)}`;
      const at = ((time ?? Date.now()) - this.t0) / 1000;
      const c = this.counts.get(key) ?? { n: 0, first: at, last: at };
      this.counts.set(key, { n: c.n + 1, first: Math.min(c.first, at), last: Math.max(c.last, at) });
    } catch {
      if (this.raw.length < 5) this.raw.push(text.slice(0, 200));
    }
  }
  count(msg: string): number {
    return this.counts.get(msg)?.n ?? 0;
  }
  notes(): string[] {
    return [
      ...[...this.counts].map(([k, c]) => `log "${k}" x${c.n} (at ${c.first.toFixed(1)}-${c.last.toFixed(1)} s)`),
      ...this.raw.map((r) => `output: ${r}`),
    ];
  }
}

/** Read results until told to stop and the queue came back empty once more. */
function collect(sqs: SQSClient, queueUrl: string, onResult: (r: LabelResult) => void) {
  let stopping = false;
  const done = (async () => {
    for (;;) {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60 }));
      const messages = out.Messages ?? [];
      for (const m of messages) onResult(JSON.parse(m.Body ?? "{}") as LabelResult);
      if (messages.length > 0) {
        await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: messages.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle! })) }));
      } else if (stopping) return;
    }
  })();
  return {
    async stop() {
      stopping = true;
      await done;
    },
  };
}

async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
    }),
  );
  const a = out.Attributes ?? {};
  return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) + Number(a.ApproximateNumberOfMessagesDelayed ?? 0);
}

/** Run labelq on a fresh stack: `start` starts the workers (after the backlog is on the queue) and returns how to stop them. */
async function runLabelq(
  name: string,
  scenario: string,
  start: (
    stack: LocalStack,
    tally: LogTally,
  ) => { stop: () => Promise<void>; factor: () => Promise<number | undefined>; callsByProcess?: () => number[]; poolCalls?: () => { pool: string; at: number; quotaTokens: number }[] },
  quotaMultiple = 1,
): Promise<Outcome> {
  const stack = await startStack();
  const clients = createAwsClients(loadConfig(stack.env));
  const requests = requestsFor(scenario, quotaMultiple);
  if (pacedEveryMs === undefined) await sendRequests(clients.sqs, stack.queues.requests, requests);
  const results = new Map<string, LabelResult>();
  const tally = new LogTally();
  let t0 = Date.now();
  tally.t0 = t0;
  const collector = collect(clients.sqs, stack.queues.results, (r) => void (results.has(r.batchId) || results.set(r.batchId, r)));
  const workers = start(stack, tally);
  let sent = requests.length;
  let loneMs: number | undefined;
  let pacing: Promise<void> = Promise.resolve();
  if (pacedEveryMs !== undefined) {
    // Two batches alone on the idle stack, one after the other: the first warms the worker up
    // (connections, prompt), the second is the latency the paced ones are set against.
    for (const lone of requests.slice(0, 2)) {
      await sendRequests(clients.sqs, stack.queues.requests, [lone]);
      while (!results.has(lone.batchId)) await sleep(50);
      loneMs = results.get(lone.batchId)!.timing.durationMs;
    }
    t0 = Date.now();
    tally.t0 = t0;
    sent = 2;
    pacing = (async () => {
      for (let k = 2; k < requests.length; k++) {
        await sleep(t0 + (k - 2) * pacedEveryMs - Date.now());
        if (Date.now() - t0 >= durationS * 1000) return;
        await sendRequests(clients.sqs, stack.queues.requests, [requests[k]!]);
        sent += 1;
      }
    })();
  }
  const watcher = watch(stack, t0, workers.factor);
  await sleep(t0 + durationS * 1000 - Date.now());
  await pacing;
  const w = watcher.end();
  const stopping = Date.now();
  await workers.stop();
  const stopS = (Date.now() - stopping) / 1000;
  await collector.stop();
  const remaining = await queueDepth(clients.sqs, stack.queues.requests);
  const dlq = await queueDepth(clients.sqs, stack.queues.dlq);
  const after = stack.emulator.stats();
  clients.destroy();
  await stack.close();
  const completions = [...results.values()].filter((r) => Date.parse(r.timing.receivedAt) >= t0 || pacedEveryMs === undefined).map((r) => ({
    at: Date.parse(r.timing.completedAt) - t0,
    latencyMs: r.timing.durationMs,
    texts: r.items.filter((it) => it.error === null).length,
  }));
  return {
    name,
    completions,
    ...w,
    failedAttempts: tally.count("batch failed; will retry"),
    dlq,
    unaccounted: sent - results.size - remaining - dlq,
    loneMs,
    callsByProcess: workers.callsByProcess?.(),
    quotaMultiple,
    // Epoch ms to ms since the start, as the completions are.
    poolCalls: workers.poolCalls?.().map((c) => ({ ...c, at: c.at - t0 })),
    itemErrors: [...results.values()].reduce((n, r) => n + r.items.filter((it) => it.error !== null).length, 0),
    notes: [
      `workers stopped in ${stopS.toFixed(1)} s (LABELQ_SHUTDOWN_TIMEOUT_S=${P.stopTimeoutS}); left on the requests queue: ${remaining} of ${requests.length}; model calls by model, shutdown included: ${Object.entries(after.byModel).map(([m, v]) => `${m} ${v.calls}`).join(", ")}`,
      ...tally.notes(),
    ],
  };
}

/** (b) one in-process worker pool, local limiter (no Redis). */
function runLocal(): Promise<Outcome> {
  return runLabelq(`labelq, 1 pool in-process, local limiter`, "local", (stack, tally) => {
    const config = loadConfig(labelqEnv(stack, {}));
    const clients = createAwsClients(config);
    const worker = createWorker(config, clients, createLogger(config.log, { write: (s: string) => tally.line(s) }));
    worker.pool.start();
    return {
      async stop() {
        await worker.close();
        clients.destroy();
      },
      factor: () => Promise.resolve(Object.values(worker.limiter.rateFactors())[0]),
    };
  });
}

/** (d) one in-process worker over N quota pools in N Regions, each with the emulator's quota; calls counted per Region at the SDK. */
function runPools(n: number): Promise<Outcome> {
  const regions = POOL_REGIONS.slice(0, n);
  return runLabelq(
    `labelq, ${n} quota pools (${regions.join(", ")}), in-process`,
    `pools${n}`,
    (stack, tally) => {
      const config = loadConfig(labelqEnv(stack, { AWS_REGION: regions[0]!, LABELQ_POOLS: JSON.stringify(regions.map((region) => ({ region }))) }));
      const clients = createAwsClients(config);
      const calls: { pool: string; at: number; quotaTokens: number }[] = [];
      for (const region of regions) {
        clients.bedrockIn(region).middlewareStack.add(
          (next) => async (args) => {
            const out = await next(args);
            const usage = (out.output as { usage?: { inputTokens?: number; outputTokens?: number; cacheReadInputTokens?: number; cacheWriteInputTokens?: number } }).usage ?? {};
            const quotaTokens = (usage.inputTokens ?? 0) + (usage.cacheReadInputTokens ?? 0) + (usage.cacheWriteInputTokens ?? 0) + (usage.outputTokens ?? 0) * model.outputBurnDown;
            calls.push({ pool: region, at: Date.now(), quotaTokens });
            return out;
          },
          { step: "initialize", name: `bench-count-${region}` },
        );
      }
      const worker = createWorker(config, clients, createLogger(config.log, { write: (s: string) => tally.line(s) }));
      worker.pool.start();
      return {
        async stop() {
          await worker.close();
          clients.destroy();
        },
        factor: () => Promise.resolve(Object.values(worker.limiter.rateFactors())[0]),
        poolCalls: () => [...calls],
      };
    },
    n,
  );
}

/** Each pool's share of its own quota over the steady window (the binding one), by pool; the one-pool row is AWS_REGION's. */
function poolShares(o: Outcome, s: ReturnType<typeof summarize>): string {
  if (!o.poolCalls) return `${POOL_REGIONS[0]} ${pct(s.share)}`;
  const minutes = P.steadyS / 60;
  const pools = [...new Set(o.poolCalls.map((c) => c.pool))].sort();
  return pools
    .map((pool) => {
      const steady = o.poolCalls!.filter((c) => c.pool === pool && c.at >= P.rampS * 1000 && c.at < durationS * 1000);
      const share = binding === "requests" ? steady.length / minutes / P.rpm : steady.reduce((n, c) => n + c.quotaTokens, 0) / minutes / P.tpm;
      return `${pool} ${pct(share)}`;
    })
    .join(", ");
}

/** (c) N `labelq worker` processes sharing one Redis limiter. */
function runFleet(processes: number): Promise<Outcome> {
  const limiterId = `bench-quota-${randomUUID()}`;
  return runLabelq(`labelq fleet, ${processes} worker process${processes > 1 ? "es" : ""}, Redis limiter`, `fleet${processes}`, (stack, tally) => {
    const env = labelqEnv(stack, {
      LABELQ_REDIS_URL: P.redisUrl,
      LABELQ_LIMITER_ID: limiterId,
      LABELQ_EXPECTED_WORKERS: String(processes),
      LABELQ_HTTP_PORT: "0",
      // "batch labelled" (info) carries each batch's model calls: how the processes shared the calls.
      LOG_LEVEL: "info",
    });
    const children: ChildProcess[] = [];
    const calls = Array.from({ length: processes }, () => 0);
    const exits: Promise<number | null>[] = [];
    for (let k = 0; k < processes; k++) {
      const child = spawn(process.execPath, [path.join(root, "bin/labelq.js"), "worker"], { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
      for (const stream of [child.stdout, child.stderr]) {
        createInterface({ input: stream }).on("line", (l) => {
          if (l.includes('"batch labelled"')) {
            calls[k]! += Number((JSON.parse(l) as { modelCalls?: number }).modelCalls ?? 0);
            return;
          }
          if (/"level":(30|20|10),/.test(l)) return;
          tally.line(l);
        });
      }
      exits.push(new Promise((resolve) => child.once("exit", (code) => resolve(code))));
      children.push(child);
    }
    const redis = new Redis(P.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 });
    return {
      async stop() {
        for (const child of children) child.kill("SIGTERM");
        const codes = await Promise.all(exits);
        if (codes.some((c) => c !== 0)) tally.raw.push(`worker exit codes: ${codes.join(", ")}`);
        // This scenario's limiter keys only (its id is fresh and random).
        let cursor = "0";
        do {
          const [next, keys] = await redis.scan(cursor, "MATCH", `*${limiterId}*`, "COUNT", 1000);
          if (keys.length > 0) await redis.del(...keys);
          cursor = next;
        } while (cursor !== "0");
        redis.disconnect();
      },
      callsByProcess: () => [...calls],
      async factor() {
        const f = await redis.hget(`${limiterId}:llama3.3-70b:aimd`, "f");
        return f === null ? 1 : Number(f);
      },
    };
  });
}

// ---------------------------------------------------------------------------------------------

function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function summarize(o: Outcome) {
  const inSteady = o.completions.filter((c) => c.at >= P.rampS * 1000 && c.at < durationS * 1000);
  const texts = inSteady.reduce((n, c) => n + c.texts, 0);
  const perMin = texts / (P.steadyS / 60);
  const calls = o.atEnd.calls - o.atRamp.calls;
  const throttled = o.atEnd.throttled - o.atRamp.throttled;
  const buckets = Array.from({ length: Math.ceil(durationS / P.bucketS) }, () => 0);
  for (const c of o.completions) {
    const k = Math.floor(c.at / 1000 / P.bucketS);
    if (k >= 0 && k < buckets.length) buckets[k]! += c.texts;
  }
  // Usage of each quota over the steady window, from what the emulator accepted and settled.
  const succeeded = o.atEnd.succeeded - o.atRamp.succeeded;
  const quotaTokens =
    o.atEnd.inputTokens - o.atRamp.inputTokens + (o.atEnd.cacheReadInputTokens - o.atRamp.cacheReadInputTokens) + (o.atEnd.cacheWriteInputTokens - o.atRamp.cacheWriteInputTokens) +
    (o.atEnd.outputTokens - o.atRamp.outputTokens) * model.outputBurnDown;
  const minutes = P.steadyS / 60;
  const rpmShare = P.rpm > 0 ? succeeded / minutes / (P.rpm * o.quotaMultiple) : 0;
  const tpmShare = P.tpm > 0 ? quotaTokens / minutes / (P.tpm * o.quotaMultiple) : 0;
  return {
    perMin,
    share: binding === "requests" ? rpmShare : tpmShare,
    rpmShare,
    tpmShare,
    tokensPerCall: succeeded > 0 ? quotaTokens / succeeded : NaN,
    calls,
    throttled,
    throttledShare: calls > 0 ? throttled / calls : 0,
    throttledShareAll: o.atEnd.calls > 0 ? o.atEnd.throttled / o.atEnd.calls : 0,
    callsPerS: calls / P.steadyS,
    p50: percentile(inSteady.map((c) => c.latencyMs), 50) / 1000,
    p99: percentile(inSteady.map((c) => c.latencyMs), 99) / 1000,
    firstMinuteTexts: o.completions.filter((c) => c.at < P.rampS * 1000).reduce((n, c) => n + c.texts, 0),
    buckets,
    /** The emulator's latency for the mean answer of the run: the model's own call time, without labelq. */
    modelCallS: (P.latency.fixedMs + P.latency.perOutputTokenMs * (o.atEnd.succeeded > 0 ? o.atEnd.outputTokens / o.atEnd.succeeded : 0)) / 1000,
  };
}


const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const started = Date.now();
console.log(
  [
    `quota benchmark, commit ${benchCommit()}, ${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? "?"})`,
    `emulator (test double, strict: reserves input + maxTokens at start, settles after, no retry-after): quota ${P.rpm} rpm, ${P.tpm} tpm (rolling 60 s windows); latency ${P.latency.fixedMs} ms + ${P.latency.perOutputTokenMs} ms/output token`,
    `batches of ${P.textsPerBatch} texts, 1 model call each (LABELQ_CHUNK_SIZE=${P.textsPerBatch}), model ${model.alias}; a call costs ~${Math.round(plannedCallTokens)} quota tokens once settled`,
    `binding quota: ${binding} per minute (${P.rpm} calls by requests, ${callsByTpm === Infinity ? "unlimited" : callsByTpm.toFixed(0)} calls by tokens); it allows ~${quotaTextsPerMin.toFixed(0)} texts/min`,
    pacedEveryMs === undefined
      ? `each scenario: fresh stack, backlog of ${batchesPerScenario} batches (${P.demand}x what the quota allows in ${durationS} s), runs ${durationS} s; figures over the steady window ${P.rampS}-${durationS} s`
      : `each labelq scenario: fresh stack, one lone batch, then one batch every ${(pacedEveryMs / 1000).toFixed(2)} s (${P.paced}x what the quota allows) for ${durationS} s; figures over the steady window ${P.rampS}-${durationS} s`,
    `naive: ${P.naiveConcurrency} concurrent loops; labelq: LABELQ_CONCURRENCY=${P.concurrency} per process; fleet: ${P.fleet.join(", ")} processes on ${P.redisUrl}`,
    "",
  ].join("\n"),
);

if (P.scenarios.has("fleet")) {
  const probe = new Redis(P.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await probe.connect().then(() => probe.ping());
  probe.disconnect();
}

const outcomes: Outcome[] = [];
const run = async (f: () => Promise<Outcome>) => {
  const o = await f();
  const s = summarize(o);
  console.log(
    `${o.name}: ${s.perMin.toFixed(0)} texts/min, ${pct(s.share)} of the binding ${binding} quota (requests ${pct(s.rpmShare)}, tokens ${pct(s.tpmShare)}, ${s.tokensPerCall.toFixed(0)} quota tokens per call), calls ${s.calls} (${s.callsPerS.toFixed(1)}/s), throttled ${s.throttled} (${pct(s.throttledShare)}; whole run ${pct(s.throttledShareAll)}), ` +
      `p50 ${s.p50.toFixed(2)} s p99 ${s.p99.toFixed(2)} s, first minute ${s.firstMinuteTexts} texts, failed attempts ${o.failedAttempts}` +
      (o.meanFactor !== undefined ? `, rate factor mean ${o.meanFactor.toFixed(2)} min ${o.minFactor!.toFixed(2)}` : ""),
  );
  if (o.loneMs !== undefined) {
    console.log(`  lone batch ${(o.loneMs / 1000).toFixed(2)} s, model call ${s.modelCallS.toFixed(2)} s; p99 / lone batch ${(s.p99 / (o.loneMs / 1000)).toFixed(2)}x, p99 / model call ${(s.p99 / s.modelCallS).toFixed(2)}x`);
  }
  if (o.callsByProcess && o.callsByProcess.length > 1) {
    const c = o.callsByProcess;
    console.log(`  model calls by process: ${c.join(", ")} (most / fewest ${(Math.max(...c) / Math.max(1, Math.min(...c))).toFixed(2)}x)`);
  }
  for (const n of o.notes) console.log(`  ${n}`);
  console.log(`  texts per ${P.bucketS} s: ${s.buckets.join(" ")}`);
  outcomes.push(o);
};
if (P.scenarios.has("naive")) await run(runNaive);
if (P.scenarios.has("local")) await run(runLocal);
if (P.scenarios.has("fleet")) for (const n of P.fleet) await run(() => runFleet(n));
if (P.pools > 0 && P.scenarios.has("naive")) await run(() => runNaive(POOL_REGIONS.slice(0, P.pools)));
if (P.pools > 0) await run(() => runPools(P.pools));

console.log(`\n| scenario | texts/min | % of binding quota (${binding}) | % of rpm | % of tpm | model calls | throttled | throttled share | p50 batch s | p99 batch s | failed batch attempts | DLQ | unaccounted |`);
console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
for (const o of outcomes) {
  const s = summarize(o);
  const na = (v: number | undefined) => (v === undefined ? "n/a" : String(v));
  console.log(
    `| ${o.name} | ${s.perMin.toFixed(0)} | ${pct(s.share)} | ${pct(s.rpmShare)} | ${pct(s.tpmShare)} | ${s.calls} | ${s.throttled} | ${pct(s.throttledShare)} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${o.failedAttempts} | ${na(o.dlq)} | ${na(o.unaccounted)} |`,
  );
}

if (P.pools > 0) {
  console.log(`\n| scenario | quota pools | texts/min | % of all pools' binding quota (${binding}) | model calls | throttled share | each pool's share of its own quota |`);
  console.log("|---|---|---|---|---|---|---|");
  for (const o of outcomes.filter((x) => !x.name.includes("fleet") && (x.quotaMultiple > 1 || !x.name.startsWith("naive")))) {
    const s = summarize(o);
    console.log(`| ${o.name} | ${o.quotaMultiple} | ${s.perMin.toFixed(0)} | ${pct(s.share)} | ${s.calls} | ${pct(s.throttledShare)} | ${poolShares(o, s)} |`);
  }
}

if (pacedEveryMs !== undefined) {
  console.log(
    `\n| scenario (paced at ${P.paced}x the binding quota) | % of binding quota (${binding}) | throttled | p50 batch s | p99 batch s | lone batch s | p99 / lone batch | model call s | p99 / model call | model calls by process | most / fewest |`,
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const o of outcomes.filter((x) => x.loneMs !== undefined)) {
    const s = summarize(o);
    const c = o.callsByProcess ?? [];
    const spread = c.length > 1 ? `${(Math.max(...c) / Math.max(1, Math.min(...c))).toFixed(2)}x` : "n/a";
    console.log(
      `| ${o.name} | ${pct(s.share)} | ${s.throttled} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${(o.loneMs! / 1000).toFixed(2)} | ${(s.p99 / (o.loneMs! / 1000)).toFixed(2)}x | ${s.modelCallS.toFixed(2)} | ${(s.p99 / s.modelCallS).toFixed(2)}x | ${c.join(", ") || "n/a"} | ${spread} |`,
    );
  }
}

const naive = outcomes.find((o) => o.name.startsWith("naive") && o.quotaMultiple === 1);
const local = outcomes.find((o) => o.name.includes("local limiter")) ?? outcomes.find((o) => o.name.includes("1 worker process"));
if (naive && local && P.chart) {
  const toPoints = (o: Outcome) => summarize(o).buckets.map((v, k) => [(k + 0.5) * P.bucketS, v] as const);
  const svg = lineChartSvg({
    title: "Completed texts per 10 s under one model quota",
    subtitle: `emulator quota ${P.rpm} rpm, ${P.tpm} tpm (${binding} bind); ${P.textsPerBatch} texts per call; backlog ${P.demand}x the quota; ${new Date().toISOString().slice(0, 10)}`,
    xLabel: "seconds since start",
    yLabel: `texts completed per ${P.bucketS} s`,
    xMax: durationS,
    xStep: P.bucketS * 2,
    band: { from: P.rampS, to: durationS, label: "steady window" },
    series: [
      { name: `naive (${P.naiveConcurrency} concurrent, SDK retries)`, color: "#d62728", points: toPoints(naive) },
      { name: `labelq (${local.name.includes("local limiter") ? "local limiter" : "1 worker process"})`, color: "#1f77b4", points: toPoints(local) },
      { name: "quota", color: "#555555", dashed: true, points: [[0, (quotaTextsPerMin * P.bucketS) / 60], [durationS, (quotaTextsPerMin * P.bucketS) / 60]] },
    ],
  });
  await fs.writeFile(path.resolve(root, P.chart), svg);
  console.log(`\nchart: ${P.chart}`);
}
console.log(`total run time ${((Date.now() - started) / 60_000).toFixed(1)} min`);
