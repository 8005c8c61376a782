import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { QueueError } from "../../core/errors/errors.ts";

export interface QueueSet {
  requests: string;
  results: string;
  dlq: string;
}

/** Receives before SQS moves a request to the DLQ, unless told otherwise (also used by deploy/cdk). */
export const DEFAULT_MAX_RECEIVE_COUNT = 5;

export interface CreateQueuesOptions {
  /** Names are `<prefix>-requests`, `<prefix>-results`, `<prefix>-dlq` (plus `.fifo` for FIFO). */
  prefix: string;
  fifo?: boolean;
  /** Receives before SQS moves a request to the DLQ (redrive policy). */
  maxReceiveCount?: number;
  visibilityTimeoutS?: number;
}

/**
 * Create (or find: CreateQueue is idempotent for equal attributes) the requests queue with a
 * redrive policy to the DLQ, the DLQ, and the default results queue. Works on AWS,
 * LocalStack and the embedded stack alike.
 */
export async function createQueues(sqs: SQSClient, options: CreateQueuesOptions): Promise<QueueSet> {
  const suffix = options.fifo ? ".fifo" : "";
  const fifoAttrs: Record<string, string> = options.fifo ? { FifoQueue: "true", ContentBasedDeduplication: "false" } : {};
  const create = async (name: string, attributes: Record<string, string>) => {
    const out = await sqs.send(new CreateQueueCommand({ QueueName: `${options.prefix}-${name}${suffix}`, Attributes: { ...fifoAttrs, ...attributes } }));
    if (!out.QueueUrl) throw new QueueError(`CreateQueue returned no URL for ${name}`);
    return out.QueueUrl;
  };
  const dlq = await create("dlq", { MessageRetentionPeriod: String(14 * 24 * 3600) });
  const dlqAttrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ["QueueArn"] }));
  const requests = await create("requests", {
    VisibilityTimeout: String(options.visibilityTimeoutS ?? 120),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqAttrs.Attributes?.QueueArn, maxReceiveCount: options.maxReceiveCount ?? DEFAULT_MAX_RECEIVE_COUNT }),
  });
  const results = await create("results", {});
  return { requests, results, dlq };
}
