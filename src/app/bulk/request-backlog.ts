import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Logger } from "pino";

/**
 * Messages waiting on the requests queue (ApproximateNumberOfMessages), read at most every
 * `maxAgeMs` so that the auto policy costs one SQS call per interval, not one per message. An
 * unreadable depth counts as 0: the policy then keeps batches live, the safe side.
 */
export function requestBacklog(sqs: SQSClient, queueUrl: string, log: Logger, maxAgeMs = 30_000): () => Promise<number> {
  let value = 0;
  let readAt = Number.NEGATIVE_INFINITY;
  let reading: Promise<number> | undefined;
  return () => {
    if (Date.now() - readAt < maxAgeMs) return Promise.resolve(value);
    reading ??= sqs
      .send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }))
      .then(
        (out) => {
          value = Number(out.Attributes?.ApproximateNumberOfMessages ?? 0);
          readAt = Date.now();
          return value;
        },
        (error: unknown) => {
          log.warn({ err: error }, "could not read the requests queue's depth; the auto policy counts no backlog");
          readAt = Date.now();
          return 0;
        },
      )
      .finally(() => (reading = undefined));
    return reading;
  };
}
