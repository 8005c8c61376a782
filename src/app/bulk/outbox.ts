import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { LabelRequest } from "../../core/contracts/request.ts";
import type { LabelResult } from "../../core/contracts/result.ts";
import { QueueError } from "../../core/errors/errors.ts";
import { toSqsJson } from "../../adapters/sqs/sqs-json.ts";
import { fifoFields, publishResult, sendToDlq } from "../../adapters/sqs/sqs-messages.ts";

/** Where the bulk path sends what leaves it: results, batches handed to the live path, the DLQ. */
export interface Outbox {
  publish(replyTo: string, result: LabelResult): Promise<void>;
  /** The request again on the requests queue (the caller sets mode "live"). */
  toLive(request: LabelRequest): Promise<void>;
  /** The request to the DLQ with the error that sent it there (its code and message as attributes). */
  toDlq(request: LabelRequest, error: Error): Promise<void>;
}

/** The Outbox on SQS, through the same helpers as the live path (publishResult, sendToDlq). */
export class SqsOutbox implements Outbox {
  readonly #sqs: SQSClient;
  readonly #queues: { requests: string; dlq: string };

  constructor(sqs: SQSClient, queues: { requests: string; dlq: string }) {
    this.#sqs = sqs;
    this.#queues = queues;
  }

  publish(replyTo: string, result: LabelResult): Promise<void> {
    return publishResult(this.#sqs, replyTo, result);
  }

  async toLive(request: LabelRequest): Promise<void> {
    const body = toSqsJson(request);
    try {
      await this.#sqs.send(new SendMessageCommand({ QueueUrl: this.#queues.requests, MessageBody: body, ...fifoFields(this.#queues.requests, request.batchId, body) }));
    } catch (cause) {
      throw new QueueError(`Could not send bulk batch ${request.batchId} back to the requests queue`, { cause });
    }
  }

  toDlq(request: LabelRequest, error: Error): Promise<void> {
    const message = { MessageId: `bulk:${request.batchId}`, Body: toSqsJson(request) };
    return sendToDlq(this.#sqs, this.#queues.dlq, message, { error, receiveCount: 1, sourceQueue: this.#queues.requests, batchId: request.batchId });
  }
}
