import { Command } from "commander";
import fs from "node:fs";
import path from "node:path";
import { createAwsClients } from "../adapters/aws-clients.ts";
import { configVariables } from "../core/config/config.ts";
import { registerCollectCommand } from "./collect-command.ts";
import { configFrom } from "./config-from-flags.ts";
import { describeError } from "./describe-error.ts";
import { packageRoot } from "./package-root.ts";
import { registerDemoCommand } from "./demo-command.ts";
import { registerDistillCommand } from "./distill-command.ts";
import { registerDlqCommand } from "./dlq-command.ts";
import { registerEnqueueCommand } from "./enqueue-command.ts";
import { registerEstimateCommand } from "./estimate-command.ts";
import { registerEvalCommand } from "./eval-command.ts";
import { registerJobsCommand } from "./jobs-command.ts";
import { registerLocalCommand } from "./local-command.ts";
import { registerPromptsCommand } from "./prompts-command.ts";
import { registerQuotasCommand } from "./quotas-command.ts";
import { registerSchemaCommand } from "./schema-command.ts";
import { registerStatusCommand } from "./status-command.ts";
import { registerTablesCommand } from "./tables-command.ts";
import { registerWorkerCommand } from "./worker-command.ts";

// The `labelq` command: one file per command group registers itself on this program.
const program = new Command()
  .name("labelq")
  .description("Label short texts with an LLM on Amazon Bedrock, from an SQS queue to a results queue.")
  .version((JSON.parse(fs.readFileSync(path.join(packageRoot, "package.json"), "utf8")) as { version: string }).version)
  .option("--debug", "print the stack of an error as well (LOG_LEVEL=debug does too)")
  .addHelpText(
    "after",
    `\nConfiguration comes from environment variables (flags override them):\n  ${configVariables.join("\n  ")}\nSee docs/configuration.md for what each one does.`,
  );

registerWorkerCommand(program);
registerLocalCommand(program);
registerEnqueueCommand(program);
registerCollectCommand(program);
registerSchemaCommand(program);
registerDemoCommand(program);
registerTablesCommand(program);
registerStatusCommand(program);
registerEstimateCommand(program);
registerEvalCommand(program);
registerDistillCommand(program);
registerJobsCommand(program);
registerQuotasCommand(program);
registerDlqCommand(program, { config: configFrom, clients: createAwsClients });
registerPromptsCommand(program, () => configFrom({}).prompts.dir, (s) => void process.stdout.write(s));

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // One line a user can act on; the stack only when asked for.
  process.stderr.write(`labelq: ${describeError(error)}\n`);
  if (program.opts<{ debug?: boolean }>().debug || process.env.LOG_LEVEL === "debug") {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exitCode = 1;
}
