import type { Message } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { Logger } from "pino";
import { ReceivesExhaustedError } from "../core/errors/errors.ts";
import type { Handled, MessageOutcome } from "../app/worker/message-handler.ts";
import { messageFromRecord } from "./sqs-record.ts";

/** The part of labelq's message handler the Lambda path needs: whether to delete the message, and what became of it. */
export type HandleMessage = (message: Message, signal: AbortSignal) => Promise<Pick<Handled, "ack" | "outcome">>;

/** What handleSqsEvent needs beside the handler. */
export interface SqsEventDeps {
  logger: Logger;
  /**
   * The requests queue's redrive limit (its RedrivePolicy's maxReceiveCount): a record received
   * this many times is on its last receive. Undefined: no limit known, records are returned as they are.
   */
  maxReceiveCount: number | undefined;
  /** Copy a message to the DLQ with labelq's reason; resolves once it is there (the event source then deletes it). */
  deadLetter(message: Message, error: ReceivesExhaustedError): Promise<void>;
  /** Hold back the handler's visibility changes to a receipt handle (VisibilityHold); returns the release. */
  holdVisibility(receiptHandle: string): () => void;
}

/** A record's fate: deleted by the event source, or kept on the queue (reported), and why. */
type Fate = { keep: false } | { keep: true; why: string };

/** Why a record would go back to the queue, by the handler's outcome, in words for the DLQ reason. */
const WHY_KEPT: Partial<Record<MessageOutcome, string>> = {
  returned: "the function neared its timeout before the batch finished (a longer function timeout or smaller batches help)",
  "retry-later": "a retryable failure (its code is in the function's log under this messageId)",
  deferred: "another worker held the batch's lease",
  "quota-hold": "every allowed model's daily token quota was spent",
  "lease-lost": "another worker took the batch's lease over",
};

/** Kept back unprocessed behind an earlier message of a FIFO event, so its group stays in order. */
const HELD_BEHIND = "not processed: an earlier message of its FIFO event went back to the queue first, and its group keeps its order";

/**
 * Run every record of an SQS event through the message handler and report the ones to keep
 * as `batchItemFailures` (the event source's ReportBatchItemFailures): Lambda deletes the
 * others. A record the handler does not acknowledge (retry later, deferred, returned) keeps
 * the visibility the handler gave it. On a FIFO queue records run in order and, after the
 * first one kept, the rest of the event is kept unprocessed, so a message group stays in
 * order (Lambda's SQS guide asks exactly this of FIFO partial failures).
 *
 * Every receive counts toward the queue's maxReceiveCount, whether the function failed, ran out
 * of time or reported the record, and SQS moves a message whose receive count exceeds it to the
 * DLQ on its next receive, without labelq's reason. So a record on its last receive that would be
 * kept is dead-lettered here instead, with RECEIVES_EXHAUSTED and why it was not done, and
 * deleted; the handler's visibility changes to it are held back meanwhile, so it cannot be
 * received (and moved) again before the event source deletes it.
 */
export async function handleSqsEvent(event: SQSEvent, handle: HandleMessage, signal: AbortSignal, deps: SqsEventDeps): Promise<SQSBatchResponse> {
  const run = async (record: SQSRecord): Promise<Fate> => {
    try {
      const handled = await handle(messageFromRecord(record), signal);
      return handled.ack ? { keep: false } : { keep: true, why: WHY_KEPT[handled.outcome] ?? `the message handler left it on the queue (${handled.outcome})` };
    } catch (error) {
      // The handler routes every failure itself; anything that still escapes leaves the message for SQS to redeliver.
      deps.logger.error({ err: error, messageId: record.messageId }, "message handler failed; the message stays on the queue");
      return { keep: true, why: `the message handler failed (${error instanceof Error ? error.message : String(error)})` };
    }
  };
  /** Process a record (or, behind a kept FIFO record, not) and say whether it stays on the queue. */
  const settle = async (record: SQSRecord, process: boolean): Promise<boolean> => {
    const last = deps.maxReceiveCount !== undefined && receiveCount(record) >= deps.maxReceiveCount;
    const release = last ? deps.holdVisibility(record.receiptHandle) : undefined;
    try {
      const fate: Fate = process ? await run(record) : { keep: true, why: HELD_BEHIND };
      if (!fate.keep || !last) return fate.keep;
      return !(await deadLetterLastReceive(record, deps.maxReceiveCount!, fate.why, deps));
    } finally {
      release?.();
    }
  };
  const kept: string[] = [];
  if (event.Records.some((r) => r.eventSourceARN.endsWith(".fifo"))) {
    for (const record of event.Records) {
      if (await settle(record, kept.length === 0)) kept.push(record.messageId);
    }
  } else {
    const results = await Promise.all(event.Records.map(async (r) => ((await settle(r, true)) ? r.messageId : undefined)));
    kept.push(...results.filter((id) => id !== undefined));
  }
  return { batchItemFailures: kept.map((itemIdentifier) => ({ itemIdentifier })) };
}

/** The record's ApproximateReceiveCount, this receive included (1 on the first). */
function receiveCount(record: SQSRecord): number {
  const n = Number(record.attributes.ApproximateReceiveCount);
  return Number.isFinite(n) && n >= 1 ? n : 1;
}

/**
 * Dead-letter a record on its last receive with why it was not done; true once it is in the DLQ.
 * When the DLQ cannot be reached the record is kept: the redrive policy moves it after all, and
 * the log says why.
 */
async function deadLetterLastReceive(record: SQSRecord, maxReceiveCount: number, why: string, deps: SqsEventDeps): Promise<boolean> {
  const error = new ReceivesExhaustedError(receiveCount(record), maxReceiveCount, why);
  const log = deps.logger.child({ messageId: record.messageId, receiveCount: error.receiveCount, maxReceiveCount });
  try {
    await deps.deadLetter(messageFromRecord(record), error);
  } catch (failure) {
    log.error({ err: failure, reason: error.message }, "could not dead-letter a message on its last receive; the redrive policy will move it without labelq's reason");
    return false;
  }
  log.warn({ code: error.code, reason: error.message }, "message on its last receive sent to the DLQ instead of back to the queue");
  return true;
}
