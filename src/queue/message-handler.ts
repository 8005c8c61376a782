import type { Message, SQSClient } from "@aws-sdk/client-sqs";
import type { Logger } from "pino";
import type { RequestLimits } from "../contracts/request.ts";
import { errorCode, InvalidRequestError, isRetryable, ShuttingDownError } from "../errors/errors.ts";
import { parseRequestMessage, peekBatchId } from "./parse-request-message.ts";
import { resolveReplyTo } from "./reply-to.ts";
import { retryDelaySeconds } from "./retry-delay.ts";
import { changeVisibility, publishResult, sendToDlq } from "./sqs-messages.ts";
import type { LabelRequest } from "../contracts/request.ts";
import type { LabelResult } from "../contracts/result.ts";

export interface HandlerSettings {
  requestsQueueUrl: string;
  resultsQueueUrl: string;
  dlqUrl: string;
  replyToAllowlist: readonly string[];
  limits: RequestLimits;
  retryBaseDelayS: number;
}

/** Labels one validated request; the queue layer knows nothing else of the work. */
export type LabelFn = (request: LabelRequest, receivedAt: Date, signal: AbortSignal) => Promise<LabelResult>;

/** What happened to a message, for the pool's bookkeeping and tests. */
export type MessageOutcome = "published" | "dead-lettered" | "retry-later" | "returned";

/**
 * Handle one request message end to end and decide its fate:
 * - published: the result is on its results queue; the request is deleted after that;
 * - dead-lettered: a request that can never succeed is copied to the DLQ with its reason, then deleted;
 * - retry-later: a retryable failure; the message becomes visible again after a growing delay;
 * - returned: the worker is stopping; the message is made visible at once for another worker.
 * Returns the message when it should be deleted (sqs-consumer's acknowledgement), else undefined.
 */
export function createMessageHandler(settings: HandlerSettings, label: LabelFn, sqs: SQSClient, logger: Logger) {
  return async function handleMessage(message: Message, signal: AbortSignal): Promise<{ ack: boolean; outcome: MessageOutcome }> {
    const receivedAt = new Date();
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? "1");
    const log = logger.child({ messageId: message.MessageId, receiveCount });

    const deadLetter = async (error: unknown, batchId: string | undefined) => {
      await sendToDlq(sqs, settings.dlqUrl, message, { error, receiveCount, sourceQueue: settings.requestsQueueUrl, batchId });
      log.warn({ batchId, code: errorCode(error), reason: (error as Error).message }, "request sent to the DLQ");
      return { ack: true, outcome: "dead-lettered" as const };
    };

    let request: LabelRequest;
    let replyTo: string;
    try {
      request = parseRequestMessage(message.Body, settings.limits);
      replyTo = resolveReplyTo(request.replyTo, settings.resultsQueueUrl, settings.replyToAllowlist);
    } catch (error) {
      if (error instanceof InvalidRequestError) return deadLetter(error, peekBatchId(message.Body));
      throw error;
    }

    try {
      if (signal.aborted) throw new ShuttingDownError();
      const result = await label(request, receivedAt, signal);
      await publishResult(sqs, replyTo, result);
      const errors = result.items.filter((it) => it.error !== null).length;
      log.info(
        {
          batchId: request.batchId,
          status: result.status,
          items: result.items.length,
          labelled: result.items.length - errors,
          errors,
          taxonomy: result.taxonomy,
          promptVersion: result.promptVersion,
          model: result.model,
          modelCalls: result.usage.modelCalls,
          inputTokens: result.usage.inputTokens,
          outputTokens: result.usage.outputTokens,
          costUsd: result.usage.costUsd,
          durationMs: result.timing.durationMs,
        },
        "batch labelled",
      );
      return { ack: true, outcome: "published" };
    } catch (error) {
      if (signal.aborted) {
        // Stopping: hand the message to another worker now rather than after the visibility timeout.
        await changeVisibility(sqs, settings.requestsQueueUrl, message, 0);
        log.info({ batchId: request.batchId }, "worker stopping: message returned to the queue");
        return { ack: false, outcome: "returned" };
      }
      if (!isRetryable(error)) return deadLetter(error, request.batchId);
      const delay = retryDelaySeconds(receiveCount, settings.retryBaseDelayS);
      await changeVisibility(sqs, settings.requestsQueueUrl, message, delay);
      log.warn({ batchId: request.batchId, code: errorCode(error), err: error, retryInSeconds: delay }, "batch failed; will retry");
      return { ack: false, outcome: "retry-later" };
    }
  };
}

export type MessageHandler = ReturnType<typeof createMessageHandler>;
