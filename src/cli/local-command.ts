import { type Command, Option } from "commander";
import { createAwsClients } from "../aws-clients.ts";
import { startLocalStack } from "../local/local-stack.ts";
import { createLogger } from "../observability/logger.ts";
import { createWorker } from "../worker.ts";
import { configFrom, useLocalCredentials } from "./config-from-flags.ts";
import { DEFAULT_EMULATOR_LATENCY, EMULATOR_HELP, emulatorSettings } from "./emulator-flag.ts";
import { integerArg } from "./numeric-flags.ts";
import { untilSignal } from "./until-signal.ts";

const port = integerArg(0, 65_535);

/** Add `labelq local`: the embedded stack on fixed ports, with a worker pool, until a signal. */
export function registerLocalCommand(program: Command): void {
  program
    .command("local")
    .description("Start the embedded stack (SQS, DynamoDB, Bedrock emulator) on fixed ports with a worker pool; print its endpoints as one JSON line.")
    .addOption(new Option("--sqs-port <port>", "SQS (fauxqs) port").argParser(port).default(9324))
    .addOption(new Option("--dynamodb-port <port>", "DynamoDB (dynalite) port").argParser(port).default(8000))
    .addOption(new Option("--bedrock-port <port>", "Bedrock emulator port").argParser(port).default(8090))
    .option("--host <host>", "address to bind and advertise", "127.0.0.1")
    .option("--no-worker", "start only the stack, no worker pool")
    .option("--concurrency <n>", "worker pool size (LABELQ_CONCURRENCY)")
    .option("--emulator <json>", EMULATOR_HELP)
    .action(async (o: { sqsPort: number; dynamodbPort: number; bedrockPort: number; host: string; worker: boolean; concurrency?: string; emulator?: string }) => {
      useLocalCredentials();
      const base = configFrom({ LABELQ_CONCURRENCY: o.concurrency });
      const logger = createLogger(base.log);
      const emulator = emulatorSettings(o.emulator);
      const stack = await startLocalStack({
        region: base.region,
        host: o.host,
        ports: { sqs: o.sqsPort, dynamodb: o.dynamodbPort, bedrock: o.bedrockPort },
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
}
