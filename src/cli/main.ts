import { Command } from "commander";
import { createAwsClients } from "../aws-clients.ts";
import { configVariables } from "../config/config.ts";
import { LabelqError } from "../errors/errors.ts";
import { registerCollectCommand } from "./collect-command.ts";
import { configFrom } from "./config-from-flags.ts";
import { registerDemoCommand } from "./demo-command.ts";
import { registerDlqCommand } from "./dlq-command.ts";
import { registerEnqueueCommand } from "./enqueue-command.ts";
import { registerEstimateCommand } from "./estimate-command.ts";
import { registerEvalCommand } from "./eval-command.ts";
import { registerLocalCommand } from "./local-command.ts";
import { registerPromptsCommand } from "./prompts-command.ts";
import { registerSchemaCommand } from "./schema-command.ts";
import { registerStatusCommand } from "./status-command.ts";
import { registerTablesCommand } from "./tables-command.ts";
import { registerWorkerCommand } from "./worker-command.ts";

// The `labelq` command: one file per command group registers itself on this program.
const program = new Command()
  .name("labelq")
  .description("Label short texts with an LLM on Amazon Bedrock, from an SQS queue to a results queue.")
  .showHelpAfterError()
  .addHelpText(
    "after",
    `\nConfiguration comes from environment variables (flags override them):\n  ${configVariables.join("\n  ")}\nSee README.md for what each one does.`,
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
