import { setTimeout as sleep } from "node:timers/promises";
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from "@aws-sdk/client-sqs";
import type { LabelRequest } from "../../core/contracts/request.ts";
import { QueueError } from "../../core/errors/errors.ts";
import { fifoFields } from "../../adapters/sqs/sqs-messages.ts";
import { toSqsJson } from "../../adapters/sqs/sqs-json.ts";

/** SQS limits for one SendMessageBatch call: 10 entries and 1 MiB of payload in total. */
const MAX_ENTRIES = 10;
const MAX_PAYLOAD_BYTES = 1_048_576;

/**
 * Send requests with SendMessageBatch, packing entries by count and size, and re-sending the
 * entries SQS reports as failed (a partial failure is normal) a few times before giving up.
 * An aborted `signal` stops the sending at once, a back-off wait included (an AbortError).
 */
export async function sendRequests(
  sqs: SQSClient,
  queueUrl: string,
  requests: readonly LabelRequest[],
  onSent: (sent: number) => void = () => {},
  signal?: AbortSignal,
): Promise<void> {
  let group: SendMessageBatchRequestEntry[] = [];
  let bytes = 0;
  for (const request of requests) {
    const body = toSqsJson(request);
    const size = Buffer.byteLength(body);
    if (group.length === MAX_ENTRIES || (group.length > 0 && bytes + size > MAX_PAYLOAD_BYTES)) {
      await sendGroup(sqs, queueUrl, group, signal);
      onSent(group.length);
      group = [];
      bytes = 0;
    }
    group.push({ Id: String(group.length), MessageBody: body, ...fifoFields(queueUrl, request.batchId, body) });
    bytes += size;
  }
  if (group.length > 0) {
    await sendGroup(sqs, queueUrl, group, signal);
    onSent(group.length);
  }
}

async function sendGroup(sqs: SQSClient, queueUrl: string, entries: SendMessageBatchRequestEntry[], signal: AbortSignal | undefined, attempts = 4): Promise<void> {
  let pending = entries;
  for (let attempt = 1; pending.length > 0; attempt++) {
    signal?.throwIfAborted();
    let failed: { Id?: string; SenderFault?: boolean; Message?: string }[];
    try {
      const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: pending }), { abortSignal: signal });
      failed = out.Failed ?? [];
    } catch (cause) {
      signal?.throwIfAborted();
      if (attempt >= attempts) throw new QueueError(`SendMessageBatch to ${queueUrl} failed`, { cause });
      failed = pending.map((e) => ({ Id: e.Id }));
    }
    const fatal = failed.find((f) => f.SenderFault);
    if (fatal) throw new QueueError(`SQS refused a request message: ${fatal.Message ?? "sender fault"}`);
    const ids = new Set(failed.map((f) => f.Id));
    pending = pending.filter((e) => ids.has(e.Id));
    if (pending.length > 0) {
      if (attempt >= attempts) throw new QueueError(`${pending.length} messages could not be sent to ${queueUrl}`);
      await sleep(200 * 2 ** attempt, undefined, { signal });
    }
  }
}
