import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { QueueError } from "../../core/errors/errors.ts";
import { peekBatchId } from "../../core/intake/parse-request-message.ts";
import { DLQ_ATTRIBUTES } from "../../adapters/sqs/sqs-messages.ts";

/** The code shown for a DLQ entry that SQS's redrive policy moved: it carries no labelq attributes. */
export const REDRIVE_CODE = "REDRIVE";

/** One DLQ message as an operator sees it; the body is kept but only `show` prints it (bodies are user data). */
export interface DlqEntry {
  messageId: string;
  receiptHandle: string;
  body: string;
  /** From the labelq-batch-id attribute, else read from the body when it is JSON with a batchId. */
  batchId: string | undefined;
  /** labelq-error-code, or REDRIVE when the redrive policy moved the message. */
  code: string;
  /** True when the message has none of labelq's DLQ attributes (moved by the redrive policy, or sent by something else). */
  redrive: boolean;
  reason: string | undefined;
  sourceQueue: string | undefined;
  /** When labelq dead-lettered it (labelq-failed-at), in ms since the epoch. */
  failedAt: number | undefined;
  /** When SQS took the message in (SentTimestamp), in ms since the epoch. */
  sentAt: number | undefined;
  /** Receives on the requests queue before labelq dead-lettered it (labelq-receive-count). */
  receiveCount: number | undefined;
  /** ApproximateReceiveCount on the DLQ; it counts every `dlq list` too (and, after a redrive, the source queue's receives). */
  approximateReceiveCount: number | undefined;
  /** MessageGroupId on a FIFO DLQ. */
  groupId: string | undefined;
  /** DeadLetterQueueSourceArn, which SQS sets on messages its redrive policy moved. */
  deadLetterSourceArn: string | undefined;
  /** Every message attribute as a string (binary values as base64). */
  attributes: Record<string, string>;
}

/** Read a received DLQ message into a DlqEntry. */
export function toDlqEntry(message: Message): DlqEntry {
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    attributes[name] = value.StringValue ?? (value.BinaryValue ? Buffer.from(value.BinaryValue).toString("base64") : "");
  }
  const system = message.Attributes ?? {};
  const body = message.Body ?? "";
  const redrive = !Object.values(DLQ_ATTRIBUTES).some((name) => name in attributes);
  const code = attributes[DLQ_ATTRIBUTES.code];
  return {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body,
    batchId: attributes[DLQ_ATTRIBUTES.batchId] ?? peekBatchId(body),
    code: redrive ? REDRIVE_CODE : (code ?? "UNKNOWN"),
    redrive,
    reason: attributes[DLQ_ATTRIBUTES.reason],
    sourceQueue: attributes[DLQ_ATTRIBUTES.sourceQueue],
    failedAt: time(attributes[DLQ_ATTRIBUTES.failedAt]),
    sentAt: number(system.SentTimestamp),
    receiveCount: number(attributes[DLQ_ATTRIBUTES.receiveCount]),
    approximateReceiveCount: number(system.ApproximateReceiveCount),
    groupId: system.MessageGroupId,
    deadLetterSourceArn: system.DeadLetterQueueSourceArn,
    attributes,
  };
}

/** When the entry failed: labelq's failure time, else when SQS took it in (redrive entries have only that). */
export function failedTime(entry: Pick<DlqEntry, "failedAt" | "sentAt">): number | undefined {
  return entry.failedAt ?? entry.sentAt;
}

export interface ScanOptions {
  /** How long each received message stays invisible while the scan runs; everything held is released at the end. */
  visibilityTimeoutS: number;
  /** Long-poll wait per receive; a short one makes an empty answer mean "nothing left" on AWS too. */
  waitTimeS?: number;
  /** Stop before the next message when this returns true. */
  done?: () => boolean;
  /** At most this many messages per receive (1..10), e.g. what a limit leaves. */
  batchSize?: () => number;
}

/** What the visitor did with a message: still in the DLQ (release it at the end) or deleted. */
export type Visited = "hold" | "gone";

export interface ScanReport {
  /** Messages given to the visitor. */
  visited: number;
  /** Held messages whose release failed: they become visible when their visibility timeout ends. */
  unreleased: number;
}

/**
 * Walk the DLQ without consuming it. SQS has no peek: the only way to read a message is to
 * receive it, which hides it for the visibility timeout. So each message is received once with
 * a short timeout, kept invisible while the scan goes on (releasing it at once would let the
 * next receive hand back the same messages and the scan would never reach the rest), and made
 * visible again with ChangeMessageVisibility 0 as soon as the scan ends, also on error.
 * Stops when `done` says so or when two receives in a row bring nothing new.
 */
export async function scanDlq(
  sqs: SQSClient,
  dlqUrl: string,
  options: ScanOptions,
  visit: (entry: DlqEntry) => Promise<Visited> | Visited,
): Promise<ScanReport> {
  // Receipt handles of messages to release; the newest handle wins if a message came round again.
  const held = new Map<string, string>();
  const seen = new Set<string>();
  let visited = 0;
  let emptyRounds = 0;
  let unreleased = 0;
  try {
    while (!options.done?.() && emptyRounds < 2) {
      const messages = await receive(sqs, dlqUrl, options);
      let fresh = 0;
      for (const message of messages) {
        const id = message.MessageId ?? "";
        if (seen.has(id)) {
          // Its visibility ran out during a long scan and it came round again: keep holding it, visit it once.
          if (held.has(id)) held.set(id, message.ReceiptHandle ?? "");
          continue;
        }
        fresh++;
        if (options.done?.()) {
          // Received beyond what the caller wants: release it untouched.
          held.set(id, message.ReceiptHandle ?? "");
          continue;
        }
        seen.add(id);
        // Held before the visit, so a visit that throws still gets its message released.
        held.set(id, message.ReceiptHandle ?? "");
        visited++;
        if ((await visit(toDlqEntry(message))) === "gone") held.delete(id);
      }
      emptyRounds = fresh === 0 ? emptyRounds + 1 : 0;
    }
  } finally {
    unreleased = await releaseAll(sqs, dlqUrl, [...held.values()]);
  }
  return { visited, unreleased };
}

async function receive(sqs: SQSClient, dlqUrl: string, options: ScanOptions): Promise<Message[]> {
  try {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: Math.max(1, Math.min(10, options.batchSize?.() ?? 10)),
        VisibilityTimeout: options.visibilityTimeoutS,
        WaitTimeSeconds: options.waitTimeS ?? 1,
        MessageAttributeNames: ["All"],
        MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp", "MessageGroupId", "DeadLetterQueueSourceArn"],
      }),
    );
    return out.Messages ?? [];
  } catch (cause) {
    throw new QueueError(`Could not receive from the DLQ ${dlqUrl}: ${errorMessage(cause)}`, { cause });
  }
}

/** Make messages visible again at once, ten per call; returns how many could not be released. */
export async function releaseAll(sqs: SQSClient, queueUrl: string, receiptHandles: readonly string[]): Promise<number> {
  let failed = 0;
  for (let k = 0; k < receiptHandles.length; k += 10) {
    const group = receiptHandles.slice(k, k + 10);
    try {
      const out = await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: group.map((handle, n) => ({ Id: String(n), ReceiptHandle: handle, VisibilityTimeout: 0 })),
        }),
      );
      failed += out.Failed?.length ?? 0;
    } catch {
      // Not fatal: these messages come back on their own when the short visibility timeout ends.
      failed += group.length;
    }
  }
  return failed;
}

/** Read up to `limit` DLQ entries and leave them all in the DLQ, visible again. */
export async function listDlq(
  sqs: SQSClient,
  dlqUrl: string,
  options: { limit: number; visibilityTimeoutS: number; waitTimeS?: number },
): Promise<{ entries: DlqEntry[]; unreleased: number }> {
  const entries: DlqEntry[] = [];
  const { unreleased } = await scanDlq(
    sqs,
    dlqUrl,
    { ...options, done: () => entries.length >= options.limit, batchSize: () => options.limit - entries.length },
    (entry) => {
      entries.push(entry);
      return "hold";
    },
  );
  return { entries, unreleased };
}

/** Find one DLQ entry by message id, looking at up to `limit` messages; all are left in the DLQ. */
export async function findDlqEntry(
  sqs: SQSClient,
  dlqUrl: string,
  messageId: string,
  options: { limit: number; visibilityTimeoutS: number; waitTimeS?: number },
): Promise<{ entry: DlqEntry | undefined; scanned: number; unreleased: number }> {
  let found: DlqEntry | undefined;
  let scanned = 0;
  const report = await scanDlq(
    sqs,
    dlqUrl,
    { ...options, done: () => found !== undefined || scanned >= options.limit, batchSize: () => options.limit - scanned },
    (entry) => {
      scanned++;
      if (entry.messageId === messageId) found = entry;
      return "hold";
    },
  );
  return { entry: found, scanned, unreleased: report.unreleased };
}

/** The DLQ's approximate depth (visible and in flight), or undefined when SQS will not say. */
export async function dlqDepth(sqs: SQSClient, dlqUrl: string): Promise<number | undefined> {
  try {
    const out = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }),
    );
    const a = out.Attributes ?? {};
    return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
  } catch {
    // Only a progress total and a note depend on it.
    return undefined;
  }
}

function number(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

function time(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/** An SDK error as "Name: message", for messages an operator reads. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.name && error.name !== "Error" ? `${error.name}: ${error.message}` : error.message;
  return String(error);
}
