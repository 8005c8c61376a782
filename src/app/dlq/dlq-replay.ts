import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { InvalidRequestError, QueueError } from "../../core/errors/errors.ts";
import { type DlqEntry, errorMessage, failedTime, scanDlq, type Visited } from "./dlq-inspect.ts";
import { fifoFields } from "../../adapters/sqs/sqs-messages.ts";

const UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parse a duration such as "90s", "10m", "2h", "1h30m" or "7d" into milliseconds. */
export function parseDuration(text: string): number {
  const trimmed = text.trim().toLowerCase();
  // A bare number is refused: "10" could mean seconds or minutes, and a wrong guess replays the wrong messages.
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/.test(trimmed)) {
    throw new InvalidRequestError(`"${text}" is not a duration: use a number and a unit (ms, s, m, h, d, w), e.g. 10m, 2h, 1h30m`);
  }
  let ms = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)) ms += Number(amount) * (UNITS_MS[unit ?? ""] ?? 0);
  return ms;
}

/** Error codes from repeated or comma-separated --code values, upper-cased ("model_unavailable,REDRIVE" is fine). */
export function parseCodes(values: readonly string[]): Set<string> {
  const codes = new Set<string>();
  for (const value of values) {
    for (const part of value.split(",")) {
      const code = part.trim().toUpperCase();
      if (code === "") continue;
      if (!/^[A-Z][A-Z0-9_]*$/.test(code)) throw new InvalidRequestError(`--code "${part.trim()}" is not an error code (e.g. MODEL_UNAVAILABLE, REDRIVE)`);
      codes.add(code);
    }
  }
  return codes;
}

/** Which DLQ entries a replay takes; an empty filter takes all. */
export interface ReplayFilter {
  /** labelq-error-code values; REDRIVE matches entries the redrive policy moved. */
  codes?: ReadonlySet<string>;
  batchId?: string;
  /** Only entries that failed at least this long ago. */
  olderThanMs?: number;
  /** Only entries that failed less than this long ago. */
  newerThanMs?: number;
}

/** Check a filter for contradictions before it touches a queue. */
export function checkFilter(filter: ReplayFilter): void {
  if (filter.olderThanMs !== undefined && filter.newerThanMs !== undefined && filter.olderThanMs >= filter.newerThanMs) {
    throw new InvalidRequestError("--older-than must be shorter than --newer-than (together they select failures between the two ages)");
  }
}

/** Whether a DLQ entry passes the filter; an entry of unknown age never passes an age filter. */
export function matchesFilter(entry: Pick<DlqEntry, "code" | "batchId" | "failedAt" | "sentAt">, filter: ReplayFilter, now: number): boolean {
  if (filter.codes && filter.codes.size > 0 && !filter.codes.has(entry.code)) return false;
  if (filter.batchId !== undefined && entry.batchId !== filter.batchId) return false;
  if (filter.olderThanMs !== undefined || filter.newerThanMs !== undefined) {
    const at = failedTime(entry);
    if (at === undefined) return false;
    const age = now - at;
    if (filter.olderThanMs !== undefined && age < filter.olderThanMs) return false;
    if (filter.newerThanMs !== undefined && age >= filter.newerThanMs) return false;
  }
  return true;
}

export interface ReplayOptions {
  dlqUrl: string;
  /** Where entries without a labelq-source-queue attribute go (LABELQ_REQUESTS_QUEUE_URL); redrive entries have none. */
  defaultTarget: string | undefined;
  filter: ReplayFilter;
  /** Stop after this many matching messages (moved, would move or failed). */
  limit?: number;
  /** False: a dry run that only reports what would move. */
  execute: boolean;
  /** Sends per second at most. */
  ratePerSecond: number;
  visibilityTimeoutS: number;
  waitTimeS?: number;
  now?: () => number;
  /** Called for each matching message once its fate is known. */
  onMatch?: (outcome: ReplayOutcome) => void;
  /** Called after each message looked at, with the counts so far. */
  onProgress?: (counts: ReplayCounts) => void;
  /** Stop before the next message (e.g. on SIGINT); what was read is made visible again. */
  signal?: AbortSignal;
}

export interface ReplayOutcome {
  entry: DlqEntry;
  action: "would-move" | "moved" | "failed";
  target: string | undefined;
  error?: string;
}

export interface ReplayCounts {
  scanned: number;
  /** Sent to their source queue and deleted from the DLQ. */
  moved: number;
  /** Matching, in a dry run. */
  wouldMove: number;
  /** Not matching the filter; made visible again. */
  skipped: number;
  /** Matching but not moved (no target, or the send failed): still in the DLQ. */
  failed: number;
  /**
   * Copies of a message this run already moved: it failed again and was dead-lettered anew
   * (with a new message id) while the replay ran. Left in the DLQ, so no entry is moved twice.
   */
  returned: number;
}

export interface ReplayReport extends ReplayCounts {
  limitReached: boolean;
  /** The signal stopped the replay before it had read the whole DLQ. */
  interrupted: boolean;
  /** Messages whose release failed; they become visible when the visibility timeout ends. */
  unreleased: number;
}

/**
 * Replay DLQ entries by receive-and-send, which works on every SQS (fauxqs has no
 * StartMessageMoveTask) and can filter. Each matching message's body goes unchanged, with no
 * labelq-* attributes (it is a fresh attempt), to its source queue; the DLQ copy is deleted only
 * after that send succeeded, so a failed send leaves it in the DLQ. Everything else is made
 * visible again when the scan ends, however it ends. A dry run (execute false) sends and deletes
 * nothing.
 *
 * Each body is moved at most once per run: a replayed message that fails again comes back to the
 * DLQ as a new message (new id, same body) while the scan is still running, and moving it again
 * would loop for as long as the cause lasts, a paid model call each time on AWS. Such copies are
 * counted as `returned` and left in the DLQ.
 */
export async function replayDlq(sqs: SQSClient, options: ReplayOptions): Promise<ReplayReport> {
  const counts: ReplayCounts = { scanned: 0, moved: 0, wouldMove: 0, skipped: 0, failed: 0, returned: 0 };
  const run: Replay = {
    sqs,
    options,
    counts,
    now: options.now ?? Date.now,
    interrupted: () => options.signal?.aborted === true,
    pace: pacer(options.ratePerSecond, (ms) => sleep(ms, undefined, { signal: options.signal }).catch(() => undefined)),
    sentBodies: new Set<string>(),
  };
  const limitReached = () => options.limit !== undefined && counts.moved + counts.wouldMove + counts.failed >= options.limit;
  const report = await scanDlq(
    sqs,
    options.dlqUrl,
    { visibilityTimeoutS: options.visibilityTimeoutS, waitTimeS: options.waitTimeS, done: () => limitReached() || run.interrupted() },
    async (entry) => {
      counts.scanned++;
      try {
        return await visitEntry(run, entry);
      } finally {
        options.onProgress?.({ ...counts });
      }
    },
  );
  return { ...counts, limitReached: limitReached(), interrupted: run.interrupted(), unreleased: report.unreleased };
}

/** One replay run: its options, its counts so far and what it needs to decide each entry. */
interface Replay {
  sqs: SQSClient;
  options: ReplayOptions;
  counts: ReplayCounts;
  now: () => number;
  interrupted: () => boolean;
  /** Waits for the next send's turn under --rate. */
  pace: () => Promise<void>;
  /** Hashes of the bodies this run sent: a message that comes back with one of them is a returned copy. */
  sentBodies: Set<string>;
}

/** Decide one entry: a returned copy, not matching, a dry run's match, no target, or moved; "gone" only when moved. */
async function visitEntry(run: Replay, entry: DlqEntry): Promise<Visited> {
  const { options, counts } = run;
  const bodyHash = createHash("sha256").update(entry.body).digest("hex");
  if (run.sentBodies.has(bodyHash)) {
    counts.returned++;
    return "hold";
  }
  if (!matchesFilter(entry, options.filter, run.now())) {
    counts.skipped++;
    return "hold";
  }
  const target = entry.sourceQueue ?? options.defaultTarget;
  if (!options.execute) {
    counts.wouldMove++;
    options.onMatch?.({ entry, action: "would-move", target });
    return "hold";
  }
  if (!target) {
    counts.failed++;
    options.onMatch?.({ entry, action: "failed", target, error: "no labelq-source-queue attribute and no LABELQ_REQUESTS_QUEUE_URL (--queue) to send it to" });
    return "hold";
  }
  await run.pace();
  // Stopped while waiting for its turn: not sent, and released with the rest.
  if (run.interrupted()) return "hold";
  return await moveEntry(run, entry, target, bodyHash);
}

/** Send the body to its target, then delete the DLQ copy; a failure of either is counted and leaves the copy in the DLQ. */
async function moveEntry(run: Replay, entry: DlqEntry, target: string, bodyHash: string): Promise<Visited> {
  const { sqs, options, counts } = run;
  try {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: target,
        MessageBody: entry.body,
        // The DLQ message id in the deduplication key: a replay is not dropped as a duplicate of
        // the producer's original send, and re-running a replay whose delete failed sends once.
        ...fifoFields(target, entry.groupId ?? entry.batchId ?? entry.messageId, `labelq-replay:${entry.messageId}:${entry.body}`),
      }),
    );
  } catch (error) {
    counts.failed++;
    options.onMatch?.({ entry, action: "failed", target, error: `send failed: ${errorMessage(error)}` });
    return "hold";
  }
  run.sentBodies.add(bodyHash);
  try {
    await sqs.send(new DeleteMessageCommand({ QueueUrl: options.dlqUrl, ReceiptHandle: entry.receiptHandle }));
  } catch (error) {
    counts.failed++;
    options.onMatch?.({ entry, action: "failed", target, error: `sent, but the DLQ copy could not be deleted (${errorMessage(error)}): a second replay would send it again` });
    return "hold";
  }
  counts.moved++;
  options.onMatch?.({ entry, action: "moved", target });
  return "gone";
}

/** A function that resolves no more often than `perSecond` times a second. */
export function pacer(perSecond: number, sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms))): () => Promise<void> {
  const interval = 1000 / perSecond;
  let next = 0;
  return async () => {
    const now = Date.now();
    const wait = next - now;
    next = Math.max(now, next) + interval;
    if (wait > 0) await sleep(wait);
  };
}

/**
 * Start SQS's own redrive (StartMessageMoveTask) from the DLQ, for an unfiltered replay on AWS.
 * Without a destination SQS returns each message to the queue its redrive policy moved it from,
 * which labelq's own DLQ entries (sent, not redriven) do not have: pass the requests queue.
 * The embedded SQS (fauxqs, `labelq local`) does not implement the call.
 */
export async function startMoveTask(
  sqs: SQSClient,
  options: { dlqUrl: string; destinationUrl?: string; ratePerSecond?: number },
): Promise<{ taskHandle: string; sourceArn: string; destinationArn: string | undefined }> {
  const sourceArn = await queueArn(sqs, options.dlqUrl);
  const destinationArn = options.destinationUrl ? await queueArn(sqs, options.destinationUrl) : undefined;
  try {
    const out = await sqs.send(
      new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn, MaxNumberOfMessagesPerSecond: options.ratePerSecond }),
    );
    return { taskHandle: out.TaskHandle ?? "", sourceArn, destinationArn };
  } catch (cause) {
    const name = (cause as { name?: string }).name ?? "";
    const hint = /InvalidAction|UnknownOperation|UnsupportedOperation|NotImplemented/i.test(name)
      ? " This SQS does not implement StartMessageMoveTask (the embedded SQS, fauxqs, does not): replay without --move-task, which receives and sends and works on every SQS."
      : "";
    throw new QueueError(`StartMessageMoveTask from ${sourceArn} failed: ${errorMessage(cause)}.${hint}`, { cause });
  }
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  try {
    const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }));
    const arn = out.Attributes?.QueueArn;
    if (!arn) throw new Error("no QueueArn in the answer");
    return arn;
  } catch (cause) {
    throw new QueueError(`Could not read the ARN of ${queueUrl}: ${errorMessage(cause)}`, { cause });
  }
}
