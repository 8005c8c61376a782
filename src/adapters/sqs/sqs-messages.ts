import { ChangeMessageVisibilityCommand, type Message, type MessageAttributeValue, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { createHash } from "node:crypto";
import type { LabelResult } from "../../core/contracts/result.ts";
import { errorCode, QueueError } from "../../core/errors/errors.ts";
import { toSqsJson } from "./sqs-json.ts";

/** FIFO queues need a group and a deduplication id on every send. */
export function fifoFields(queueUrl: string, groupId: string, body: string) {
  if (!queueUrl.endsWith(".fifo")) return {};
  return {
    MessageGroupId: groupId,
    MessageDeduplicationId: createHash("sha256").update(body).digest("hex").slice(0, 64),
  };
}

/** Send a batch result to its results queue. */
export async function publishResult(sqs: SQSClient, queueUrl: string, result: LabelResult): Promise<void> {
  const body = toSqsJson(result);
  try {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: body,
        MessageAttributes: {
          "labelq-batch-id": str(result.batchId),
          "labelq-status": str(result.status),
        },
        ...fifoFields(queueUrl, result.batchId, body),
      }),
    );
  } catch (cause) {
    throw new QueueError(`Could not publish the result of batch ${result.batchId} to ${queueUrl}`, { cause });
  }
}

/** What a DLQ entry records beside the original body, as message attributes. */
export interface DeadLetterReason {
  error: unknown;
  receiveCount: number;
  sourceQueue: string;
  batchId?: string;
}

/** Names of the message attributes labelq sets on DLQ entries (read by `labelq dlq` and operators). */
export const DLQ_ATTRIBUTES = {
  code: "labelq-error-code",
  reason: "labelq-reason",
  receiveCount: "labelq-receive-count",
  sourceQueue: "labelq-source-queue",
  failedAt: "labelq-failed-at",
  batchId: "labelq-batch-id",
} as const;

/** Copy a message to the DLQ, unchanged, with why it failed; the caller deletes the original only after this resolves. */
export async function sendToDlq(sqs: SQSClient, dlqUrl: string, message: Message, why: DeadLetterReason): Promise<void> {
  const body = message.Body ?? "";
  const reason = why.error instanceof Error ? why.error.message : String(why.error);
  const attributes: Record<string, MessageAttributeValue> = {
    [DLQ_ATTRIBUTES.code]: str(errorCode(why.error)),
    // Attribute values count toward the 1 MiB message limit; the reason needs no more than this.
    [DLQ_ATTRIBUTES.reason]: str(reason.slice(0, 2_000)),
    [DLQ_ATTRIBUTES.receiveCount]: { DataType: "Number", StringValue: String(why.receiveCount) },
    [DLQ_ATTRIBUTES.sourceQueue]: str(why.sourceQueue),
    [DLQ_ATTRIBUTES.failedAt]: str(new Date().toISOString()),
  };
  if (why.batchId) attributes[DLQ_ATTRIBUTES.batchId] = str(why.batchId);
  try {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: dlqUrl,
        MessageBody: body.length > 0 ? body : "(empty body)",
        MessageAttributes: attributes,
        ...fifoFields(dlqUrl, why.batchId ?? message.MessageId ?? "labelq", `${message.MessageId ?? ""}:${body}`),
      }),
    );
  } catch (cause) {
    throw new QueueError(`Could not send message ${message.MessageId} to the DLQ ${dlqUrl}`, { cause });
  }
}

/** Make a message visible again after `seconds` (0 = at once). */
export async function changeVisibility(sqs: SQSClient, queueUrl: string, message: Message, seconds: number): Promise<void> {
  try {
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: seconds }));
  } catch (cause) {
    throw new QueueError(`Could not change the visibility of message ${message.MessageId} on ${queueUrl}`, { cause });
  }
}

function str(value: string): MessageAttributeValue {
  return { DataType: "String", StringValue: value };
}
