import { Command, Option } from "commander";
import cliProgress from "cli-progress";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createAwsClients } from "./aws-clients.ts";
import { integerFlag } from "./cli-options.ts";
import { type Config, configVariables, loadConfig, requireQueue } from "./config/config.ts";
import { contractJsonSchema, schemaNames, type SchemaName } from "./contracts/json-schema.ts";
import { runDemo } from "./demo/run-demo.ts";
import { LabelqError } from "./errors/errors.ts";
import { LOCAL_CREDENTIALS, startLocalStack } from "./local/local-stack.ts";
import { controlBodySchema, type ControlBody } from "./local/bedrock-emulator/settings-schema.ts";
import { startHealthServer } from "./observability/health-server.ts";
import { createLogger } from "./observability/logger.ts";
import { workerHealthChecks } from "./observability/worker-health.ts";
import { buildBatches } from "./producer/build-batches.ts";
import { collectResults } from "./producer/collect-results.ts";
import { readTexts } from "./producer/read-texts.ts";
import { sendRequests } from "./producer/send-requests.ts";
import { registerPromptsCommand } from "./prompts/prompts-command.ts";
import { registerDlqCommand } from "./queue/dlq-command.ts";
import { createTables } from "./store/create-tables.ts";
import { estimateRun, formatEstimate } from "./ops/estimate.ts";
import { flowRates, formatStatus, queueDepths, scrapeMetrics } from "./ops/status.ts";
import { PromptRegistry } from "./prompts/prompt-registry.ts";
import { createWorker } from "./worker.ts";

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Flags override the environment variable of the same setting; then config is validated once. */
function configFrom(flags: Record<string, string | number | undefined>): Config {
  const overrides = Object.fromEntries(Object.entries(flags).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]])));
  return loadConfig({ ...process.env, ...overrides });
}

/** Emulators need some credentials; never set them when real AWS is the target (no endpoint override). */
function useLocalCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID ??= LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= LOCAL_CREDENTIALS.secretAccessKey;
}

/** Run until SIGINT/SIGTERM, then close; a second signal exits at once. */
function untilSignal(close: () => Promise<void>, logger: { info: (o: object, m: string) => void }): Promise<void> {
  return new Promise((resolve) => {
    let closing = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (closing) process.exit(130);
      closing = true;
      logger.info({ signal }, "stopping: finishing in-flight batches (send the signal again to exit at once)");
      close().then(resolve, (error: unknown) => {
        console.error(error);
        process.exitCode = 1;
        resolve();
      });
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

const EMULATOR_HELP =
  'Bedrock emulator settings as JSON, e.g. \'{"latency":{"fixedMs":800,"perOutputTokenMs":2},"quota":{"rpm":60},"faults":[{"kind":"truncate","probability":0.2}]}\'';

/** Parse --emulator JSON with the emulator's own schema, so a typo fails loudly. */
function emulatorSettings(json: string | undefined): ControlBody {
  if (json === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new LabelqError("CONFIG_INVALID", `--emulator: not JSON (${(error as Error).message})`, false);
  }
  const parsed = controlBodySchema.safeParse(value);
  if (!parsed.success) {
    throw new LabelqError("CONFIG_INVALID", `--emulator: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`, false);
  }
  return parsed.data;
}

/** The emulator's defaults for `local` and `demo`: a hosted 70B model's pace, scaled down. */
const DEFAULT_EMULATOR_LATENCY = { fixedMs: 150, perOutputTokenMs: 0.3 };

const program = new Command()
  .name("labelq")
  .description("Label short texts with an LLM on Amazon Bedrock, from an SQS queue to a results queue.")
  .showHelpAfterError()
  .addHelpText(
    "after",
    `\nConfiguration comes from environment variables (flags override them):\n  ${configVariables.join("\n  ")}\nSee README.md for what each one does.`,
  );

program
  .command("worker")
  .description("Run a worker pool against the SQS, DynamoDB and Bedrock endpoints the configuration names (AWS, LocalStack or `labelq local`).")
  .option("--concurrency <n>", "batches in flight in this process (LABELQ_CONCURRENCY)")
  .option("--queue <url>", "requests queue URL (LABELQ_REQUESTS_QUEUE_URL)")
  .option("--results <url>", "default results queue URL (LABELQ_RESULTS_QUEUE_URL)")
  .option("--dlq <url>", "dead-letter queue URL (LABELQ_DLQ_URL)")
  .action(async (o: { concurrency?: string; queue?: string; results?: string; dlq?: string }) => {
    const config = configFrom({
      LABELQ_CONCURRENCY: o.concurrency,
      LABELQ_REQUESTS_QUEUE_URL: o.queue,
      LABELQ_RESULTS_QUEUE_URL: o.results,
      LABELQ_DLQ_URL: o.dlq,
    });
    const logger = createLogger(config.log);
    const clients = createAwsClients(config);
    const worker = createWorker(config, clients, logger);
    worker.pool.start();
    const health = await startHealthServer(
      { port: config.http.port },
      worker.metrics,
      workerHealthChecks(worker.pool, clients.sqs, requireQueue(config, "requests"), config.worker.waitTimeS),
      logger,
    );
    logger.info(
      { queue: config.queues.requests, concurrency: config.worker.concurrency, region: config.region, httpPort: health.port },
      "worker started (metrics on /metrics, probes on /healthz and /readyz)",
    );
    await untilSignal(async () => {
      // Readiness turns 503 as soon as stopping begins; the server stays up until the pool is drained.
      await worker.close();
      await health.close();
      clients.destroy();
      logger.info("worker stopped");
      logger.flush();
    }, logger);
  });

program
  .command("local")
  .description("Start the embedded stack (SQS, DynamoDB, Bedrock emulator) on fixed ports with a worker pool; print its endpoints as one JSON line.")
  .addOption(new Option("--sqs-port <port>", "SQS (fauxqs) port").default("9324"))
  .addOption(new Option("--dynamodb-port <port>", "DynamoDB (dynalite) port").default("8000"))
  .addOption(new Option("--bedrock-port <port>", "Bedrock emulator port").default("8090"))
  .option("--host <host>", "address to bind and advertise", "127.0.0.1")
  .option("--no-worker", "start only the stack, no worker pool")
  .option("--concurrency <n>", "worker pool size (LABELQ_CONCURRENCY)")
  .option("--emulator <json>", EMULATOR_HELP)
  .action(async (o: { sqsPort: string; dynamodbPort: string; bedrockPort: string; host: string; worker: boolean; concurrency?: string; emulator?: string }) => {
    useLocalCredentials();
    const base = configFrom({ LABELQ_CONCURRENCY: o.concurrency });
    const logger = createLogger(base.log);
    const emulator = emulatorSettings(o.emulator);
    const stack = await startLocalStack({
      region: base.region,
      host: o.host,
      ports: { sqs: Number(o.sqsPort), dynamodb: Number(o.dynamodbPort), bedrock: Number(o.bedrockPort) },
      emulator: { latency: DEFAULT_EMULATOR_LATENCY, ...emulator, logger: (line) => logger.info(line) },
    });
    const config = configFrom({ LABELQ_CONCURRENCY: o.concurrency, ...stack.env });
    const clients = createAwsClients(config);
    const worker = o.worker ? createWorker(config, clients, logger) : undefined;
    worker?.pool.start();
    process.stdout.write(
      JSON.stringify({ region: stack.region, endpoints: stack.endpoints, queues: stack.queues, bedrock: "emulator (test double, simulated model)" }) + "\n",
    );
    await untilSignal(async () => {
      await worker?.close();
      clients.destroy();
      await stack.close();
      logger.info("local stack stopped");
    }, logger);
  });

program
  .command("enqueue <file>")
  .description("Split the texts of a .jsonl or .csv file into batches and send them to the requests queue; prints the batch ids.")
  .option("--batch-size <n>", "texts per batch", "50")
  .option("--prefix <prefix>", "batchId prefix (batchIds are <prefix>-000001, ...); default: file name + time")
  .option("--taxonomy <name>", "taxonomy for every batch (default: the worker's)")
  .option("--prompt-version <v>", "prompt version or alias (default: the worker's)")
  .option("--model <alias>", "model alias (default: the worker's)")
  .option("--reply-to <url>", "results queue for these batches (must be allow-listed by the worker)")
  .option("--queue <url>", "requests queue URL (LABELQ_REQUESTS_QUEUE_URL)")
  .action(async (file: string, o: { batchSize: string; prefix?: string; taxonomy?: string; promptVersion?: string; model?: string; replyTo?: string; queue?: string }) => {
    const config = configFrom({ LABELQ_REQUESTS_QUEUE_URL: o.queue });
    const batchSize = integerFlag("--batch-size", o.batchSize, 1, config.limits.maxItems, " (LABELQ_MAX_ITEMS)");
    const queueUrl = requireQueue(config, "requests");
    const texts = await readTexts(file);
    const prefix = o.prefix ?? `${path.basename(file).replace(/\.[^.]+$/, "")}-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    const requests = buildBatches(texts, { batchSize, prefix, taxonomy: o.taxonomy, promptVersion: o.promptVersion, model: o.model, replyTo: o.replyTo });
    const clients = createAwsClients(config);
    const bar = process.stderr.isTTY
      ? new cliProgress.SingleBar({ format: "enqueue [{bar}] {value}/{total} batches", stream: process.stderr }, cliProgress.Presets.shades_classic)
      : undefined;
    bar?.start(requests.length, 0);
    try {
      await sendRequests(clients.sqs, queueUrl, requests, (n) => bar?.increment(n));
    } finally {
      bar?.stop();
      clients.destroy();
    }
    for (const r of requests) process.stdout.write(`${r.batchId}\n`);
    process.stderr.write(`enqueued ${texts.length} texts in ${requests.length} batches to ${queueUrl}\n`);
  });

program
  .command("collect")
  .description("Read batch results from the results queue into JSONL (stdout or --out) until N batches or a timeout; each message is deleted after it is written.")
  .option("--batches <n>", "stop after this many batch results")
  .option("--timeout <seconds>", "stop after this long", "300")
  .option("--out <file>", "append results to this file instead of stdout")
  .option("--queue <url>", "results queue URL (LABELQ_RESULTS_QUEUE_URL)")
  .action(async (o: { batches?: string; timeout: string; out?: string; queue?: string }) => {
    const config = configFrom({ LABELQ_RESULTS_QUEUE_URL: o.queue });
    const clients = createAwsClients(config);
    const out = o.out ? fs.openSync(o.out, "a") : 1;
    try {
      const seen = await collectResults(clients.sqs, {
        queueUrl: requireQueue(config, "results"),
        batches: o.batches === undefined ? undefined : Number(o.batches),
        timeoutMs: Number(o.timeout) * 1000,
        onResult: (r) => {
          fs.writeSync(out, JSON.stringify(r) + "\n");
          if (o.out) fs.fsyncSync(out);
        },
        onInvalid: (_body, reason) => process.stderr.write(`skipped a message that is not a labelq result: ${reason.slice(0, 200)}\n`),
      });
      process.stderr.write(`collected ${seen.size} batch results${o.out ? ` into ${o.out}` : ""}\n`);
    } finally {
      if (o.out) fs.closeSync(out);
      clients.destroy();
    }
  });

const schema = program.command("schema").description("JSON Schema of the wire contract (v1).");
schema
  .command("request")
  .description("print the request message schema")
  .action(() => void process.stdout.write(JSON.stringify(contractJsonSchema("request"), null, 2) + "\n"));
schema
  .command("result")
  .description("print the result message schema")
  .action(() => void process.stdout.write(JSON.stringify(contractJsonSchema("result"), null, 2) + "\n"));
schema
  .command("write")
  .description("write both schemas to schemas/ (committed; a test checks they match the code)")
  .action(() => {
    for (const name of schemaNames) writeSchema(name);
  });

function writeSchema(name: SchemaName): void {
  const file = path.join(packageRoot, "schemas", `${name}.v1.json`);
  fs.writeFileSync(file, JSON.stringify(contractJsonSchema(name), null, 2) + "\n");
  process.stderr.write(`wrote ${file}\n`);
}

program
  .command("demo")
  .description("Run the whole pipeline in this process on the embedded stack with the Bedrock emulator (a test double) and print a summary.")
  .option("--texts <file>", "texts to label (.jsonl or .csv)", path.join(packageRoot, "samples", "product-feedback.jsonl"))
  .option("--batch-size <n>", "texts per batch", "50")
  .option("--out <file>", "where to write the results (JSONL)")
  .option("--timeout <seconds>", "give up after this long", "300")
  .option("--emulator <json>", EMULATOR_HELP)
  .option("--runs <n>", "label the same texts this many times on the same stack (run 2 shows the label cache)", "1")
  .option("--external", "use the stack and workers the configuration names (e.g. a running `labelq local`) instead of starting them")
  .action(async (o: { texts: string; batchSize: string; out?: string; timeout: string; emulator?: string; runs: string; external?: boolean }) => {
    const batchSize = integerFlag("--batch-size", o.batchSize, 1, 1_000);
    const runs = integerFlag("--runs", o.runs, 1, 10);
    useLocalCredentials();
    const base = configFrom({ LOG_LEVEL: process.env.LOG_LEVEL ?? "warn" });
    const logger = createLogger(base.log);
    const outFile = path.resolve(o.out ?? path.join("out", `demo-results-${new Date().toISOString().replace(/[:.]/g, "-")}.jsonl`));
    await runDemo({
      textsFile: o.texts,
      outFile,
      batchSize,
      runs,
      external: o.external ?? false,
      env: { ...process.env, LOG_LEVEL: base.log.level },
      logger,
      timeoutMs: Number(o.timeout) * 1000,
      emulator: { latency: DEFAULT_EMULATOR_LATENCY, ...emulatorSettings(o.emulator) },
      write: (line) => process.stdout.write(line + "\n"),
    });
  });

program
  .command("tables")
  .description("DynamoDB tables of the label cache and the batch records.")
  .command("create")
  .description("create both tables if missing (idempotent), wait until active, turn on TTL where the service supports it")
  .action(async () => {
    const config = configFrom({});
    const clients = createAwsClients(config);
    try {
      const reports = await createTables(clients.dynamoBase, {
        cacheTable: config.store.cacheTable ?? "labelq-label-cache",
        batchesTable: config.store.batchesTable ?? "labelq-batches",
      });
      for (const r of reports) process.stdout.write(`${r.table}: ${r.created ? "created" : "exists"}, TTL on expiresAt ${r.ttl}\n`);
    } finally {
      clients.destroy();
    }
  });

program
  .command("status")
  .description("Queue depths (visible, in flight, delayed) of the requests, results and dead-letter queues, and a worker's throughput and error rate from its /metrics.")
  .option("--metrics-url <url>", "a worker's metrics endpoint (default http://127.0.0.1:$LABELQ_HTTP_PORT/metrics)")
  .option("--interval <seconds>", "seconds between the two scrapes rates are computed from", "5")
  .option("--watch", "refresh every --interval seconds until interrupted")
  .action(async (o: { metricsUrl?: string; interval: string; watch?: boolean }) => {
    const config = configFrom({});
    const clients = createAwsClients(config);
    const url = o.metricsUrl ?? `http://127.0.0.1:${config.http.port}/metrics`;
    const seconds = Number(o.interval);
    if (!(seconds > 0)) throw new LabelqError("INVALID_REQUEST", "--interval must be a positive number of seconds", false);
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

program
  .command("estimate <file>")
  .description("Before enqueueing: count the texts and batches of a .jsonl or .csv file and estimate tokens and cost per model at list prices.")
  .option("--batch-size <n>", "texts per batch", "50")
  .option("--taxonomy <name>", "taxonomy (default LABELQ_DEFAULT_TAXONOMY)")
  .option("--prompt-version <v>", "version or alias (default LABELQ_DEFAULT_PROMPT_VERSION)")
  .action(async (file: string, o: { batchSize: string; taxonomy?: string; promptVersion?: string }) => {
    const config = configFrom({});
    const batchSize = integerFlag("--batch-size", o.batchSize, 1, 1_000);
    const taxonomy = o.taxonomy ?? config.prompts.defaultTaxonomy;
    const prompt = await new PromptRegistry(config.prompts.dir).resolve(taxonomy, o.promptVersion ?? config.prompts.defaultVersion);
    const estimate = estimateRun(await readTexts(file), prompt, { batchSize, chunkSize: config.classify.chunkSize });
    process.stdout.write(formatEstimate(estimate, taxonomy, prompt.version) + "\n");
  });

registerDlqCommand(program, { config: configFrom, clients: createAwsClients });
registerPromptsCommand(program, () => configFrom({}).prompts.dir, (s) => void process.stdout.write(s));

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof LabelqError) {
    process.stderr.write(`labelq: ${error.code}: ${error.message}\n`);
  } else {
    process.stderr.write(`labelq: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exitCode = 1;
}
