import { type Command, Option } from "commander";
import { createAwsClients } from "../adapters/aws-clients.ts";
import { LabelqError } from "../core/errors/errors.ts";
import { LOCAL_CREDENTIALS } from "../app/local/local-credentials.ts";
import type { LocalStackOptions } from "../app/local/local-stack.ts";
import { createLogger } from "../core/observability/logger.ts";
import { startWorker, type Worker } from "../app/worker/worker.ts";
import { configFrom, useLocalCredentials } from "./config-from-flags.ts";
import { DEFAULT_EMULATOR_LATENCY, EMULATOR_HELP, emulatorSettings } from "./emulator-flag.ts";
import { localEnvBlock, writeLocalEnvFile } from "./local-env-file.ts";
import { integerArg } from "./numeric-flags.ts";
import { untilSignal } from "./until-signal.ts";

const port = integerArg(0, 65_535);

interface LocalFlags {
  sqsPort: number;
  dynamodbPort: number;
  bedrockPort: number;
  metricsPort?: number;
  host: string;
  worker: boolean;
  concurrency?: string;
  emulator?: string;
  envOut: string;
}

/** Add `labelq local`: the embedded stack on fixed ports, with a worker pool, until a signal. */
export function registerLocalCommand(program: Command): void {
  program
    .command("local")
    .description(
      "Start the embedded stack (SQS, DynamoDB, Bedrock emulator) on fixed ports with a worker pool; print its endpoints as one JSON line and write a ready-to-source env file.",
    )
    // The environment variables let a script or a test move the stack without changing the command line.
    .addOption(new Option("--sqs-port <port>", "SQS (fauxqs) port").argParser(port).default(9324).env("LABELQ_LOCAL_SQS_PORT"))
    .addOption(new Option("--dynamodb-port <port>", "DynamoDB (dynalite) port").argParser(port).default(8000).env("LABELQ_LOCAL_DYNAMODB_PORT"))
    .addOption(new Option("--bedrock-port <port>", "Bedrock emulator port").argParser(port).default(8090).env("LABELQ_LOCAL_BEDROCK_PORT"))
    .addOption(new Option("--metrics-port <port>", "the worker pool's /metrics, /healthz and /readyz (default LABELQ_HTTP_PORT, 9400)").argParser(port))
    .option("--host <host>", "address to bind and advertise", "127.0.0.1")
    .option("--no-worker", "start only the stack, no worker pool")
    .option("--concurrency <n>", "worker pool size (LABELQ_CONCURRENCY)")
    .option("--emulator <json>", EMULATOR_HELP)
    .option("--env-out <file>", "where to write the env block that points labelq and the AWS SDKs/CLI at this stack", "out/labelq-local.env")
    .action(async (o: LocalFlags) => {
      useLocalCredentials();
      const base = configFrom({ LABELQ_CONCURRENCY: o.concurrency });
      const logger = createLogger(base.log);
      const emulator = emulatorSettings(o.emulator);
      const ports = { sqs: o.sqsPort, dynamodb: o.dynamodbPort, bedrock: o.bedrockPort };
      const metricsPort = o.metricsPort ?? base.http.port;
      // Loaded when the command runs: the embedded services cost every other command ~1.5 s of start-up.
      const { startLocalStack } = await import("../app/local/local-stack.ts");
      const stack = await startLocalStack({
        region: base.region,
        host: o.host,
        ports,
        emulator: { latency: DEFAULT_EMULATOR_LATENCY, ...emulator, logger: (line) => logger.info(line) },
      }).catch((error: unknown) => {
        throw portInUse(error, { ...ports, metrics: metricsPort }, o.host) ?? error;
      });
      const env = { ...stack.env, ...(o.worker ? { LABELQ_HTTP_PORT: String(metricsPort) } : {}) };
      const config = configFrom({ LABELQ_CONCURRENCY: o.concurrency, ...env });
      const clients = createAwsClients(config);
      let worker: Worker | undefined;
      let stopped: Promise<void>;
      try {
        // Metrics and probes answer before the pool takes its first message.
        worker = o.worker
          ? await startWorker(config, clients, logger, { http: { port: metricsPort, host: o.host } }).catch((error: unknown) => {
              throw portInUse(error instanceof Error && error.cause !== undefined ? error.cause : error, { ...ports, metrics: metricsPort }, o.host) ?? error;
            })
          : undefined;
        const envFile = await writeLocalEnvFile(o.envOut, localEnvBlock(env, LOCAL_CREDENTIALS, new Date()));
        // Listen for signals before saying "ready": a supervisor may signal as soon as it reads the line.
        stopped = untilSignal(async () => {
          await worker?.close();
          clients.destroy();
          await stack.close();
          logger.info("local stack stopped");
        }, logger);
        process.stdout.write(
          JSON.stringify({
            region: stack.region,
            endpoints: stack.endpoints,
            queues: stack.queues,
            bedrock: "emulator (test double, simulated model)",
            metrics: worker?.httpPort === undefined ? null : `http://${o.host.includes(":") ? `[${o.host}]` : o.host}:${worker.httpPort}/metrics`,
            envFile,
          }) + "\n",
        );
        process.stderr.write(`labelq local is running. In another shell: . ${envFile}   (then e.g. npx labelq status)\n`);
      } catch (error) {
        await worker?.close();
        clients.destroy();
        await stack.close();
        throw error;
      }
      await stopped;
    });
}

const PORT_FLAGS: Record<string, string> = { sqs: "--sqs-port", dynamodb: "--dynamodb-port", bedrock: "--bedrock-port", metrics: "--metrics-port" };

/** A clear error for a port that is taken, naming the flag that picks another; undefined for any other error. */
function portInUse(error: unknown, ports: Record<keyof typeof PORT_FLAGS, number>, host: NonNullable<LocalStackOptions["host"]>): LabelqError | undefined {
  const e = error as { code?: unknown; port?: unknown };
  if (e.code !== "EADDRINUSE") return undefined;
  const which = Object.entries(ports).find(([, p]) => p === e.port)?.[0];
  const flag = which ? PORT_FLAGS[which] : undefined;
  return new LabelqError(
    "CONFIG_INVALID",
    `port ${String(e.port)} on ${host} is already in use${which ? ` (${which})` : ""}: stop what uses it (another labelq local?) or pick another port with ${flag ?? "--sqs-port, --dynamodb-port, --bedrock-port or --metrics-port"}`,
    false,
    { cause: error },
  );
}
