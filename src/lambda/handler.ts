import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { createAwsClients } from "../adapters/aws-clients.ts";
import { loadConfig } from "../core/config/config.ts";
import { createLogger } from "../core/observability/logger.ts";
import { createLambdaHandler, type LambdaHandler } from "./lambda-handler.ts";

let built: LambdaHandler | undefined;

/**
 * Lambda entry point (SQS event source with ReportBatchItemFailures). Configuration is read
 * and validated once per execution environment, on the first event, like `labelq worker` does
 * at start-up; a bad setting fails every invocation with a ConfigError naming the variable.
 */
export function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  if (!built) {
    const config = loadConfig(process.env);
    built = createLambdaHandler(config, createAwsClients(config), createLogger(config.log));
  }
  return built(event, context);
}
