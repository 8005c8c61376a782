import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import type { Logger } from "pino";
import type { AwsClients } from "../adapters/aws-clients.ts";
import type { Config } from "../core/config/config.ts";
import { createMessagePipeline, type WorkerOverrides } from "../app/worker/worker.ts";
import { handleSqsEvent } from "./handle-sqs-event.ts";

/**
 * Time kept back from the function's timeout: when only this much is left, in-flight batches
 * are stopped and their messages made visible again (the handler's "returned" outcome), so
 * Lambda's timeout never cuts a batch off with its message still invisible.
 */
export const RETURN_MARGIN_MS = 10_000;

export interface LambdaHandler {
  (event: SQSEvent, context: Pick<Context, "getRemainingTimeInMillis">): Promise<SQSBatchResponse>;
  /** Release the limiter's Redis connections (tests; Lambda freezes the process instead). */
  close(): Promise<void>;
}

/**
 * The SQS-triggered Lambda handler: labelq's own message handler (the worker's, built by the
 * same composition) over each record of the event, with partial batch failures reported. Built
 * once per execution environment and reused by its invocations, so the limiter and its Redis
 * connection outlive one event.
 */
export function createLambdaHandler(config: Config, clients: AwsClients, logger: Logger, overrides: Pick<WorkerOverrides, "provider" | "metrics"> = {}): LambdaHandler {
  const { handler, limiter } = createMessagePipeline(config, clients, logger, overrides);
  const handle = (event: SQSEvent, context: Pick<Context, "getRemainingTimeInMillis">) =>
    handleSqsEvent(event, handler, AbortSignal.timeout(Math.max(0, context.getRemainingTimeInMillis() - RETURN_MARGIN_MS)), logger);
  return Object.assign(handle, { close: () => limiter.close() });
}
