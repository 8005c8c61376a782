import type { Message, SQSClient } from "@aws-sdk/client-sqs";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { LabelRequest, RequestLimits } from "../contracts/request.ts";
import type { LabelResult } from "../contracts/result.ts";
import { errorCode, InvalidRequestError, isRetryable, ShuttingDownError } from "../errors/errors.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { ClaimOutcome, IdempotencyStore } from "../store/idempotency-store.ts";
import { parseRequestMessage, peekBatchId } from "./parse-request-message.ts";
import { payloadHash } from "./payload-hash.ts";
import { resolveReplyTo } from "./reply-to.ts";
import { MAX_RETRY_DELAY_S, retryDelaySeconds } from "./retry-delay.ts";
import { changeVisibility, publishResult, sendToDlq } from "./sqs-messages.ts";

export interface HandlerSettings {
  requestsQueueUrl: string;
  resultsQueueUrl: string;
  dlqUrl: string;
  replyToAllowlist: readonly string[];
  limits: RequestLimits;
  retryBaseDelayS: number;
  /** Lease on a batch's idempotency record; extended every `leaseRenewS` while the batch runs. */
  leaseS: number;
  leaseRenewS: number;
}

/** Labels one validated request; the queue layer knows nothing else of the work. */
export type LabelFn = (request: LabelRequest, receivedAt: Date, signal: AbortSignal) => Promise<LabelResult>;

/** What happened to a message, for the pool's bookkeeping, logs and tests. */
export type MessageOutcome = "published" | "republished" | "dead-lettered" | "deferred" | "retry-later" | "returned" | "lease-lost";

export interface HandlerDeps {
  sqs: SQSClient;
  logger: Logger;
  /** Batch idempotency; without it every delivery is processed. */
  idempotency?: IdempotencyStore;
  /** Identifies this worker as a lease owner. */
  workerId?: string;
  metrics?: Metrics;
}

/** What a handled message turned out to be, for metrics. */
interface Seen {
  request?: LabelRequest;
  result?: LabelResult;
  dlqCode?: string;
}

/**
 * Handle one request message end to end and decide its fate:
 * - published: the result is on its results queue; the request is deleted after that;
 * - republished: the batch was completed before; its stored result is sent again, no model call;
 * - dead-lettered: a request that can never succeed is copied to the DLQ with its reason, then deleted;
 * - deferred: another worker holds the batch's lease; the message comes back after the lease;
 * - retry-later: a retryable failure; the message becomes visible again after a growing delay;
 * - returned: the worker is stopping; the message is made visible at once for another worker;
 * - lease-lost: another worker took the batch over (this one stalled past its lease): it publishes.
 */
export function createMessageHandler(settings: HandlerSettings, label: LabelFn, deps: HandlerDeps) {
  const { sqs, logger, idempotency } = deps;
  const owner = deps.workerId ?? randomUUID();

  /** Handle one message; see above. Returns whether to delete it (sqs-consumer's acknowledgement). */
  return async function handleMessage(message: Message, signal: AbortSignal): Promise<{ ack: boolean; outcome: MessageOutcome }> {
    const started = performance.now();
    const seen: Seen = {};
    const out = await handle(message, signal, seen);
    if (deps.metrics) recordOutcome(deps.metrics, out.outcome, seen, (performance.now() - started) / 1000);
    return out;
  };

  async function handle(message: Message, signal: AbortSignal, seen: Seen): Promise<{ ack: boolean; outcome: MessageOutcome }> {
    const receivedAt = new Date();
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? "1");
    const log = logger.child({ messageId: message.MessageId, receiveCount });

    const deadLetter = async (error: unknown, batchId: string | undefined) => {
      await sendToDlq(sqs, settings.dlqUrl, message, { error, receiveCount, sourceQueue: settings.requestsQueueUrl, batchId });
      seen.dlqCode = errorCode(error);
      log.warn({ batchId, code: errorCode(error), reason: (error as Error).message }, "request sent to the DLQ");
      return { ack: true, outcome: "dead-lettered" as const };
    };

    let request: LabelRequest;
    let replyTo: string;
    try {
      request = parseRequestMessage(message.Body, settings.limits);
      replyTo = resolveReplyTo(request.replyTo, settings.resultsQueueUrl, settings.replyToAllowlist);
    } catch (error) {
      if (error instanceof InvalidRequestError) return deadLetter(error, peekBatchId(message.Body));
      throw error;
    }
    const batchLog = log.child({ batchId: request.batchId });
    seen.request = request;

    // Claim the batch. If the store is down, process unguarded: a possible duplicate costs
    // model calls, a stalled pipeline costs more.
    let claim: ClaimOutcome = { kind: "claimed" };
    let guarded = false;
    if (idempotency) {
      try {
        claim = await idempotency.claim(request.batchId, payloadHash(request), owner, settings.leaseS * 1000);
        guarded = claim.kind === "claimed";
      } catch (error) {
        batchLog.warn({ err: error }, "batch records unavailable; processing without the idempotency guard");
      }
    }
    switch (claim.kind) {
      case "conflict":
        return deadLetter(
          new InvalidRequestError(
            `batchId ${request.batchId} was already used for a different payload (stored ${claim.storedPayloadHash.slice(0, 19)}...); use a new batchId`,
            [],
            "BATCH_ID_CONFLICT",
          ),
          request.batchId,
        );
      case "in-progress": {
        // Look again soon (growing with each receive), but never later than the lease ends.
        const leaseLeftS = Math.ceil((claim.leaseExpiresAt - Date.now()) / 1000) + 1;
        const wait = Math.min(MAX_RETRY_DELAY_S, leaseLeftS, Math.max(1, retryDelaySeconds(receiveCount, settings.retryBaseDelayS)));
        await changeVisibility(sqs, settings.requestsQueueUrl, message, wait);
        batchLog.info({ retryInSeconds: wait }, "batch in progress on another worker; looking again after its lease");
        return { ack: false, outcome: "deferred" };
      }
      case "completed":
        if (claim.result) {
          await publishResult(sqs, replyTo, claim.result);
          seen.result = claim.result;
          batchLog.info({ status: claim.result.status }, "duplicate of a completed batch: stored result published again");
          return { ack: true, outcome: "republished" };
        }
        // The result was too large to store: rebuild it (from the label cache) below.
        break;
      case "claimed":
        break;
    }

    // The lease is extended while the batch runs; losing it means another worker took over.
    const work = new AbortController();
    const onStop = () => work.abort(signal.reason);
    signal.addEventListener("abort", onStop, { once: true });
    let leaseLost = false;
    const renew = guarded
      ? setInterval(() => {
          idempotency!.extend(request.batchId, owner, settings.leaseS * 1000).then(
            (held) => {
              if (!held) {
                leaseLost = true;
                work.abort(new Error("lease lost"));
              }
            },
            (error: unknown) => batchLog.warn({ err: error }, "could not extend the batch lease"),
          );
        }, settings.leaseRenewS * 1000)
      : undefined;

    try {
      if (signal.aborted) throw new ShuttingDownError();
      const result = await label(request, receivedAt, work.signal);
      if (guarded && !(await idempotency!.complete(request.batchId, owner, result))) {
        batchLog.warn("lost the batch lease before completing; the worker that took it over publishes the result");
        return { ack: false, outcome: "lease-lost" };
      }
      await publishResult(sqs, replyTo, result);
      seen.result = result;
      const errors = result.items.filter((it) => it.error !== null).length;
      batchLog.info(
        {
          status: result.status,
          items: result.items.length,
          labelled: result.items.length - errors,
          errors,
          cacheHits: result.usage.cacheHits,
          taxonomy: result.taxonomy,
          promptVersion: result.promptVersion,
          model: result.model,
          modelCalls: result.usage.modelCalls,
          inputTokens: result.usage.inputTokens,
          outputTokens: result.usage.outputTokens,
          costUsd: result.usage.costUsd,
          durationMs: result.timing.durationMs,
        },
        "batch labelled",
      );
      return { ack: true, outcome: "published" };
    } catch (error) {
      if (leaseLost) {
        batchLog.warn("lost the batch lease; another worker finishes the batch");
        return { ack: false, outcome: "lease-lost" };
      }
      if (guarded) await idempotency!.release(request.batchId, owner).catch((e: unknown) => batchLog.warn({ err: e }, "could not release the batch lease"));
      if (signal.aborted) {
        // Stopping: hand the message to another worker now rather than after the visibility timeout.
        await changeVisibility(sqs, settings.requestsQueueUrl, message, 0);
        batchLog.info("worker stopping: message returned to the queue");
        return { ack: false, outcome: "returned" };
      }
      if (!isRetryable(error)) return deadLetter(error, request.batchId);
      const delay = retryDelaySeconds(receiveCount, settings.retryBaseDelayS);
      await changeVisibility(sqs, settings.requestsQueueUrl, message, delay);
      batchLog.warn({ code: errorCode(error), err: error, retryInSeconds: delay }, "batch failed; will retry");
      return { ack: false, outcome: "retry-later" };
    } finally {
      clearInterval(renew);
      signal.removeEventListener("abort", onStop);
    }
  }
}

/** Count a handled message: its outcome, latency, texts and errors, with bounded labels. */
function recordOutcome(metrics: Metrics, outcome: MessageOutcome, seen: Seen, seconds: number): void {
  const taxonomy = seen.result?.taxonomy ?? "unknown";
  const model = seen.result?.model ?? "unknown";
  metrics.batches.inc({ outcome, taxonomy, prompt_version: seen.result?.promptVersion ?? "unknown", model });
  metrics.batchDuration.observe({ outcome }, seconds);
  if (seen.dlqCode) metrics.dlqSends.inc({ code: seen.dlqCode });
  if (outcome !== "published" || !seen.result) return;
  for (const item of seen.result.items) {
    if (item.error) metrics.itemErrors.inc({ code: item.error.code });
    metrics.texts.inc({ result: item.error ? "error" : (item.source ?? "model"), taxonomy, model });
  }
}

export type MessageHandler = ReturnType<typeof createMessageHandler>;
