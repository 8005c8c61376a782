import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import type { Logger } from "pino";
import type { AwsClients } from "../adapters/aws-clients.ts";
import { sendToDlq } from "../adapters/sqs/sqs-messages.ts";
import { type Config, requireQueues } from "../core/config/config.ts";
import { ConfigError } from "../core/errors/errors.ts";
import { peekBatchId } from "../core/intake/parse-request-message.ts";
import { createMessagePipeline, type WorkerOverrides } from "../app/worker/worker.ts";
import { handleSqsEvent, type SqsEventDeps } from "./handle-sqs-event.ts";
import { RedriveLimit } from "./redrive-limit.ts";
import { VisibilityHold } from "./visibility-hold.ts";

/**
 * Time kept back from the function's timeout: when only this much is left, in-flight batches
 * are stopped and their messages made visible again (the handler's "returned" outcome), so
 * Lambda's timeout never cuts a batch off with its message still invisible. A message on its
 * last receive is dead-lettered with its reason instead (see handleSqsEvent).
 */
export const RETURN_MARGIN_MS = 10_000;

export interface LambdaHandler {
  (event: SQSEvent, context: Pick<Context, "getRemainingTimeInMillis">): Promise<SQSBatchResponse>;
  /** Release the limiter's Redis connections and the SQS client's visibility hold (tests; Lambda freezes the process instead). */
  close(): Promise<void>;
}

/**
 * The SQS-triggered Lambda handler: labelq's own message handler (the worker's, built by the
 * same composition) over each record of the event, with partial batch failures reported, and
 * messages on their last receive dead-lettered with labelq's reason rather than left to the
 * redrive policy. Built once per execution environment and reused by its invocations, so the
 * limiter and its Redis connection, and the requests queue's redrive limit, outlive one event.
 */
export function createLambdaHandler(config: Config, clients: AwsClients, logger: Logger, overrides: Pick<WorkerOverrides, "provider" | "metrics"> = {}): LambdaHandler {
  refuseBulkPath(config);
  const { handler, limiter, metrics } = createMessagePipeline(config, clients, logger, overrides);
  const queues = requireQueues(config, ["requests", "dlq"]);
  const redriveLimit = new RedriveLimit(clients.sqs, queues.requests, logger);
  const hold = new VisibilityHold(clients.sqs);
  const deps: Omit<SqsEventDeps, "maxReceiveCount"> = {
    logger,
    deadLetter: async (message, error) => {
      await sendToDlq(clients.sqs, queues.dlq, message, { error, receiveCount: error.receiveCount, sourceQueue: queues.requests, batchId: peekBatchId(message.Body) });
      metrics.dlqSends.inc({ code: error.code });
    },
    holdVisibility: (receiptHandle) => hold.hold(receiptHandle),
  };
  const handle = async (event: SQSEvent, context: Pick<Context, "getRemainingTimeInMillis">) => {
    const signal = AbortSignal.timeout(Math.max(0, context.getRemainingTimeInMillis() - RETURN_MARGIN_MS));
    return handleSqsEvent(event, handler, signal, { ...deps, maxReceiveCount: await redriveLimit.get() });
  };
  return Object.assign(handle, {
    close: async () => {
      hold.detach();
      await limiter.close();
    },
  });
}

/**
 * The Lambda handler runs no bulk loop (nothing in an invocation outlives it to submit, poll and
 * collect jobs), so with the bulk path configured it would park batches that nothing finishes.
 * Refused at cold start, like any bad setting: every invocation fails with this ConfigError.
 */
function refuseBulkPath(config: Config): void {
  if (!config.bulk.enabled) return;
  throw new ConfigError([
    "LABELQ_BULK_BUCKET and LABELQ_BULK_ROLE_ARN: the bulk path is not available in Lambda mode (the function runs no bulk loop, so bulk batches would wait forever); unset them, or set LABELQ_BULK_TABLE=off, for the function, and run the bulk path on workers (labelq worker)",
  ]);
}
