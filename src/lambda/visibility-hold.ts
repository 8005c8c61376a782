import type { SQSClient } from "@aws-sdk/client-sqs";
import { randomUUID } from "node:crypto";

/**
 * Holds back the message handler's ChangeMessageVisibility calls for chosen receipt handles: the
 * records on their last receive. The handler ends a batch it does not finish by setting its
 * message's visibility (0 when the function nears its timeout, a backoff after a retryable
 * failure). On the last receive that would make the message receivable once more, and that
 * receive is the one on which SQS's redrive policy moves it to the DLQ without labelq's reason,
 * racing the Lambda handler, which dead-letters it with its reason and lets the event source
 * delete it. Held back, the message stays hidden (the queue's visibility timeout, 6x the
 * function's) until it is deleted. A held call answers as SQS does, with no output; every other
 * call goes through untouched.
 */
export class VisibilityHold {
  readonly #sqs: SQSClient;
  readonly #held = new Set<string>();
  readonly #name = `labelq-visibility-hold-${randomUUID()}`;

  constructor(sqs: SQSClient) {
    this.#sqs = sqs;
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        const receipt = (args.input as { ReceiptHandle?: unknown }).ReceiptHandle;
        if (context.commandName === "ChangeMessageVisibilityCommand" && typeof receipt === "string" && this.#held.has(receipt)) {
          // No HTTP response: the call never left the process.
          return { output: { $metadata: {} }, response: undefined };
        }
        return next(args);
      },
      { step: "initialize", name: this.#name },
    );
  }

  /** Hold back visibility changes to this receipt handle until the returned function is called. */
  hold(receiptHandle: string): () => void {
    this.#held.add(receiptHandle);
    return () => this.#held.delete(receiptHandle);
  }

  /** Take the hold off the client (a handler built again on the same client adds its own). */
  detach(): void {
    this.#sqs.middlewareStack.remove(this.#name);
  }
}
