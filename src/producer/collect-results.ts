import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { type LabelResult, resultSchema } from "../contracts/result.ts";

export interface CollectOptions {
  queueUrl: string;
  /** Stop after this many distinct batch results (undefined: until the timeout). */
  batches?: number;
  /** Only these batchIds count toward `batches`; others are still written. */
  batchIds?: ReadonlySet<string>;
  timeoutMs: number;
  /** Called for each result; the message is deleted only after it resolves, so nothing is lost. */
  onResult: (result: LabelResult) => void | Promise<void>;
  /** Called with a body that is not a valid result; the message is left on the queue. */
  onInvalid?: (body: string, reason: string) => void;
  signal?: AbortSignal;
}

/** Read results from a results queue until enough batches arrived or the timeout; returns the batchIds seen. */
export async function collectResults(sqs: SQSClient, options: CollectOptions): Promise<Set<string>> {
  const seen = new Set<string>();
  const counted = () => (options.batchIds ? [...seen].filter((id) => options.batchIds!.has(id)).length : seen.size);
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline && (options.batches === undefined || counted() < options.batches)) {
    options.signal?.throwIfAborted();
    const wait = Math.max(0, Math.min(20, Math.floor((deadline - Date.now()) / 1000)));
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: options.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: wait, VisibilityTimeout: 60 }),
      { abortSignal: options.signal },
    );
    const done: { Id: string; ReceiptHandle: string }[] = [];
    for (const [n, m] of (out.Messages ?? []).entries()) {
      let parsed: ReturnType<typeof resultSchema.safeParse>;
      try {
        parsed = resultSchema.safeParse(JSON.parse(m.Body ?? ""));
      } catch (error) {
        options.onInvalid?.(m.Body ?? "", (error as Error).message);
        continue;
      }
      if (!parsed.success) {
        options.onInvalid?.(m.Body ?? "", parsed.error.message);
        continue;
      }
      // At-least-once delivery: the same result may arrive twice; keep the first.
      if (!seen.has(parsed.data.batchId)) {
        await options.onResult(parsed.data);
        seen.add(parsed.data.batchId);
      }
      done.push({ Id: String(n), ReceiptHandle: m.ReceiptHandle! });
    }
    if (done.length > 0) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: options.queueUrl, Entries: done }));
  }
  return seen;
}
