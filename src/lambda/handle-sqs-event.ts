import type { Message } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { Logger } from "pino";
import { messageFromRecord } from "./sqs-record.ts";

/** The part of labelq's message handler the Lambda path needs: whether to delete the message. */
export type HandleMessage = (message: Message, signal: AbortSignal) => Promise<{ ack: boolean }>;

/**
 * Run every record of an SQS event through the message handler and report the ones to keep
 * as `batchItemFailures` (the event source's ReportBatchItemFailures): Lambda deletes the
 * others. A record the handler does not acknowledge (retry later, deferred, returned) keeps
 * the visibility the handler gave it. On a FIFO queue records run in order and, after the
 * first one kept, the rest of the event is kept unprocessed, so a message group stays in
 * order (Lambda's SQS guide asks exactly this of FIFO partial failures).
 */
export async function handleSqsEvent(event: SQSEvent, handle: HandleMessage, signal: AbortSignal, logger: Logger): Promise<SQSBatchResponse> {
  const keep = async (record: SQSRecord): Promise<boolean> => {
    try {
      return !(await handle(messageFromRecord(record), signal)).ack;
    } catch (error) {
      // The handler routes every failure itself; anything that still escapes leaves the message for SQS to redeliver.
      logger.error({ err: error, messageId: record.messageId }, "message handler failed; the message stays on the queue");
      return true;
    }
  };
  const kept: string[] = [];
  if (event.Records.some((r) => r.eventSourceARN.endsWith(".fifo"))) {
    for (const record of event.Records) {
      if (kept.length > 0 || (await keep(record))) kept.push(record.messageId);
    }
  } else {
    const results = await Promise.all(event.Records.map(async (r) => ((await keep(r)) ? r.messageId : undefined)));
    kept.push(...results.filter((id) => id !== undefined));
  }
  return { batchItemFailures: kept.map((itemIdentifier) => ({ itemIdentifier })) };
}
