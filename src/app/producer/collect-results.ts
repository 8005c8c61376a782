import { setTimeout as sleep } from "node:timers/promises";
import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { type LabelResult, resultSchema } from "../../core/contracts/result.ts";
import { type DlqEntry, releaseAll, scanDlq } from "../dlq/dlq-inspect.ts";

export interface CollectOptions {
  queueUrl: string;
  /** Without batchIds: stop after this many distinct batch results, whoever sent them (undefined: until the timeout). */
  batches?: number;
  /**
   * The batches waited for: only their results are taken (written, then deleted); every other
   * message is left on the queue, visible again when the collection ends. Collection stops when
   * each of them has a result or is in the DLQ.
   */
  batchIds?: ReadonlySet<string>;
  timeoutMs: number;
  /** Called for each result; the message is deleted only after it resolves, so nothing is lost. */
  onResult: (result: LabelResult) => void | Promise<void>;
  /** Called with a body that is not a valid result; the message is left on the queue. */
  onInvalid?: (body: string, reason: string) => void;
  /** Watch the DLQ for the awaited batchIds (needs batchIds), and say at once when one lands there. */
  dlq?: { url: string; onDeadLettered: (entry: DlqEntry) => void; everyMs?: number };
  /** Called between receives while batches are still awaited (progress lines), at most every `everyMs`. */
  onWaiting?: { everyMs: number; call: (awaited: ReadonlySet<string>) => void | Promise<void> };
  signal?: AbortSignal;
}

export interface CollectOutcome {
  /** Batch ids whose result was taken. */
  collected: Set<string>;
  /** Awaited batches found in the DLQ (and left there), by batch id. */
  deadLettered: Map<string, DlqEntry>;
}

/** How long a message the collector does not take stays hidden while it collects (released at the end). */
const HOLD_S = 30;

/**
 * Read results from a results queue until every awaited batch has a result or is in the DLQ
 * (or `batches` results arrived, without batchIds), or the timeout. Results of other batches
 * (another producer's, or a run before this one) are never taken: each is held while the
 * collection runs, so receives reach the rest of the queue, and made visible again at its end.
 */
export async function collectResults(sqs: SQSClient, options: CollectOptions): Promise<CollectOutcome> {
  const collected = new Set<string>();
  const deadLettered = new Map<string, DlqEntry>();
  const awaited = options.batchIds;
  const outstanding = () => new Set([...(awaited ?? [])].filter((id) => !collected.has(id) && !deadLettered.has(id)));
  const finished = () => (awaited ? outstanding().size === 0 : options.batches !== undefined && collected.size >= options.batches);
  const deadline = Date.now() + options.timeoutMs;
  const held = new Map<string, string>();
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const watcher = awaited && options.dlq ? watchDlq(sqs, options.dlq, outstanding, deadLettered, signal) : undefined;
  // The first progress line comes soon (2 s), the next ones every `everyMs`.
  let lastWaiting = Date.now() - Math.max(0, (options.onWaiting?.everyMs ?? 0) - 2_000);
  try {
    while (Date.now() < deadline && !finished()) {
      options.signal?.throwIfAborted();
      // Short polls while the DLQ is watched, so a batch found there ends the wait promptly.
      const wait = Math.max(0, Math.min(watcher ? 2 : 20, Math.floor((deadline - Date.now()) / 1000)));
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: options.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: wait, VisibilityTimeout: awaited ? HOLD_S : 60 }),
        { abortSignal: options.signal },
      );
      const done: { Id: string; ReceiptHandle: string }[] = [];
      for (const [n, m] of (out.Messages ?? []).entries()) {
        const result = readResult(m, options.onInvalid);
        if (!result || (awaited && !awaited.has(result.batchId))) {
          // Not ours to take: held while the collection runs (the newest receipt handle wins), released at its end.
          held.set(m.MessageId ?? String(n), m.ReceiptHandle ?? "");
          continue;
        }
        // At-least-once delivery: the same result may arrive twice; keep the first.
        if (!collected.has(result.batchId)) {
          await options.onResult(result);
          collected.add(result.batchId);
        }
        done.push({ Id: String(n), ReceiptHandle: m.ReceiptHandle! });
      }
      if (done.length > 0) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: options.queueUrl, Entries: done }));
      if (options.onWaiting && !finished() && Date.now() - lastWaiting >= options.onWaiting.everyMs) {
        lastWaiting = Date.now();
        await options.onWaiting.call(outstanding());
      }
    }
  } finally {
    stop.abort();
    await watcher?.catch(() => undefined);
    await releaseAll(sqs, options.queueUrl, [...held.values()]);
  }
  return { collected, deadLettered };
}

/** The result in a message, or undefined (reported to onInvalid) when it holds none. */
function readResult(m: Message, onInvalid: CollectOptions["onInvalid"]): LabelResult | undefined {
  let json: unknown;
  try {
    json = JSON.parse(m.Body ?? "");
  } catch (error) {
    onInvalid?.(m.Body ?? "", (error as Error).message);
    return undefined;
  }
  const parsed = resultSchema.safeParse(json);
  if (!parsed.success) {
    onInvalid?.(m.Body ?? "", parsed.error.message);
    return undefined;
  }
  return parsed.data;
}

/**
 * Look through the DLQ every few seconds for awaited batches, without taking anything from it
 * (scanDlq: each entry is held during a scan and made visible again after it). Each scan adds one
 * to the entries' ApproximateReceiveCount, as `labelq dlq list` does.
 */
async function watchDlq(
  sqs: SQSClient,
  dlq: NonNullable<CollectOptions["dlq"]>,
  outstanding: () => Set<string>,
  found: Map<string, DlqEntry>,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted && outstanding().size > 0) {
    const awaited = outstanding();
    await scanDlq(sqs, dlq.url, { visibilityTimeoutS: 10, waitTimeS: 1, done: () => signal.aborted }, (entry) => {
      if (entry.batchId !== undefined && awaited.has(entry.batchId) && !found.has(entry.batchId)) {
        found.set(entry.batchId, entry);
        dlq.onDeadLettered(entry);
      }
      return "hold";
    });
    await sleep(dlq.everyMs ?? 2_000, undefined, { signal }).catch(() => undefined);
  }
}

/** One line for an awaited batch found in the DLQ: its id, code and reason (reasons name items by id, never quote texts). */
export function deadLetterLine(entry: DlqEntry): string {
  const when = entry.failedAt === undefined ? "" : ` (at ${new Date(entry.failedAt).toISOString()})`;
  return `batch ${entry.batchId ?? "?"} is in the DLQ${when}: ${entry.code}: ${entry.reason ?? "moved there by the queue's redrive policy after repeated failed receives"}`;
}

/**
 * Why fewer results arrived than awaited, with advice that fits the cause: batches in the DLQ
 * will not come by waiting longer (replay them once the cause is fixed); the others may still
 * be in progress. Undefined when nothing is missing.
 */
export function shortfall(outcome: CollectOutcome, awaited: number, timeoutS: number, dlqWatched: boolean, dlqAdvice?: string): string | undefined {
  const dead = [...outcome.deadLettered.keys()];
  const missing = awaited - outcome.collected.size - dead.length;
  if (dead.length === 0 && missing <= 0) return undefined;
  const parts: string[] = [`${outcome.collected.size} of ${awaited} batch results arrived`];
  if (dead.length > 0) {
    const replay = dead.length === 1 ? `labelq dlq replay --batch-id ${dead[0]} --execute` : "labelq dlq replay --batch-id <id> --execute";
    parts.push(
      `${dead.length} ${dead.length === 1 ? "batch is" : "batches are"} in the DLQ (reasons above): waiting longer will not bring ${dead.length === 1 ? "its result" : "their results"}; ${dlqAdvice ?? `fix the cause, then \`${replay}\``}`,
    );
  }
  if (missing > 0) {
    const where = dlqWatched ? "none of them is in the DLQ, " : "the DLQ was not watched (LABELQ_DLQ_URL is not set), ";
    parts.push(
      `${missing} did not arrive within ${timeoutS} s: ${where}so they may still be in progress (\`labelq status\` shows the queues; bulk batches take up to hours, \`labelq jobs list\`): collect again with the same ids, or raise --timeout`,
    );
  }
  return parts.join("; ");
}
