import type { Message, SQSClient } from "@aws-sdk/client-sqs";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import type { LabelRequest, RequestLimits } from "../../core/contracts/request.ts";
import type { LabelResult } from "../../core/contracts/result.ts";
import { InvalidRequestError, type LabelqError, LeaseLostError, ModelCallError, ShuttingDownError, toLabelqError } from "../../core/errors/errors.ts";
import type { Metrics } from "../../core/observability/metrics.ts";
import type { RouteOutcome } from "../bulk/bulk-router.ts";
import { bulkUnavailable } from "../bulk/bulk-policy.ts";
import type { BatchLease } from "../../core/idempotency/batch-lease.ts";
import type { IdempotencyStore } from "../../core/idempotency/idempotency-store.ts";
import { type Claim, claimBatch } from "../../core/idempotency/claim-batch.ts";
import { parseRequestMessage, peekBatchId } from "../../core/intake/parse-request-message.ts";
import { payloadHash } from "../../core/idempotency/payload-hash.ts";
import { resolveReplyTo } from "./reply-to.ts";
import { MAX_RETRY_DELAY_S, quotaHoldSeconds, retryDelaySeconds } from "./retry-delay.ts";
import { MessageVisibility, type VisibilityRenewal } from "./message-visibility.ts";
import { publishResult, sendToDlq } from "../../adapters/sqs/sqs-messages.ts";

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
  /**
   * Extend a message's visibility while its batch runs. The handler is then the only one to set
   * it (see MessageVisibility); absent where something else owns it (Lambda's event source).
   */
  visibility?: VisibilityRenewal;
}

/** Labels one validated request; the queue layer knows nothing else of the work. */
export type LabelFn = (request: LabelRequest, receivedAt: Date, signal: AbortSignal) => Promise<LabelResult>;

/** What happened to a message, for the pool's bookkeeping, logs and tests. */
export type MessageOutcome =
  | "published"
  | "republished"
  | "dead-lettered"
  | "deferred"
  | "retry-later"
  | "quota-hold"
  | "returned"
  | "lease-lost"
  | "bulk-accepted"
  | "bulk-duplicate";

/** A handled message: whether to delete it (sqs-consumer's acknowledgement) and what became of it. */
export interface Handled {
  ack: boolean;
  outcome: MessageOutcome;
}

export interface HandlerDeps {
  sqs: SQSClient;
  logger: Logger;
  /** Batch idempotency; without it every delivery is processed. */
  idempotency?: IdempotencyStore;
  /** Identifies this worker as a lease owner. */
  workerId?: string;
  metrics?: Metrics;
  /** The bulk path's door (src/app/bulk/bulk-router.ts): absent, every request is labelled live. */
  bulk?: BulkIntake;
}

/** Decides live or bulk for a claimed request and takes bulk ones in durably (BulkRouter). */
export interface BulkIntake {
  route(request: LabelRequest, replyTo: string, payloadHash: string, receivedAt: Date, log: Logger): Promise<RouteOutcome>;
}

/** One delivery of a request message, and what it turned out to be (for metrics). */
interface Delivery {
  message: Message;
  receivedAt: Date;
  receiveCount: number;
  log: Logger;
  signal: AbortSignal;
  /** Every change to the message's visibility goes through it. */
  visibility: MessageVisibility;
  request?: LabelRequest;
  result?: LabelResult;
  dlqCode?: string;
}

/** What every step needs: the handler's settings, its labeller and dependencies, and its lease owner id. */
interface HandlerContext {
  settings: HandlerSettings;
  label: LabelFn;
  deps: HandlerDeps;
  owner: string;
}

/** A parsed request with where its result goes and its content's hash. */
interface Parsed {
  request: LabelRequest;
  replyTo: string;
  hash: string;
}

/**
 * Handle one request message end to end and decide its fate:
 * - published: the result is on its results queue; the request is deleted after that;
 * - republished: the batch was completed before; its stored result is sent again, no model call;
 * - dead-lettered: a request that can never succeed is copied to the DLQ with its reason, then deleted;
 * - deferred: another worker holds the batch's lease; the message comes back after the lease;
 * - retry-later: a retryable failure; the message becomes visible again after a growing delay;
 * - quota-hold: every allowed model's daily token quota is spent; the message stays hidden until it resets;
 * - returned: the worker is stopping; the message is made visible at once for another worker;
 * - lease-lost: another worker took the batch over (this one stalled past its lease): it publishes.
 * - bulk-accepted: recorded for the bulk path (batch inference), which publishes it later; deleted;
 * - bulk-duplicate: a redelivery of a batch the bulk path already holds; deleted.
 *
 * The steps: parse, claim, act on the claim (republish, defer, route to bulk, or label and
 * publish). Every failure, wherever it happens, goes through settleFailure, which decides by the error.
 */
export function createMessageHandler(settings: HandlerSettings, label: LabelFn, deps: HandlerDeps) {
  const ctx: HandlerContext = { settings, label, deps, owner: deps.workerId ?? randomUUID() };

  /** Handle one message; see above. */
  return async function handleMessage(message: Message, signal: AbortSignal): Promise<Handled> {
    const started = performance.now();
    const delivery = openDelivery(ctx, message, signal);
    let handled: Handled;
    try {
      handled = await handle(ctx, delivery);
    } finally {
      await delivery.visibility.release();
    }
    if (deps.metrics) recordOutcome(deps.metrics, handled.outcome, delivery, (performance.now() - started) / 1000);
    return handled;
  };
}

/** Start a delivery: its receive count, its logger and the one owner of its visibility. */
function openDelivery(ctx: HandlerContext, message: Message, signal: AbortSignal): Delivery {
  const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? "1");
  const log = ctx.deps.logger.child({ messageId: message.MessageId, receiveCount });
  const visibility = new MessageVisibility(ctx.deps.sqs, ctx.settings.requestsQueueUrl, message, ctx.settings.visibility, log);
  return { message, receivedAt: new Date(), receiveCount, signal, log, visibility };
}

/** Parse, claim and act on the claim; any error thrown on the way is settled by settleFailure. */
async function handle(ctx: HandlerContext, d: Delivery): Promise<Handled> {
  let lease: BatchLease | undefined;
  try {
    const parsed = parse(ctx, d);
    const claim = await claimRequest(ctx, d, parsed);
    if (claim.kind === "leased") lease = claim.lease;
    return await actOnClaim(ctx, d, parsed, claim);
  } catch (error) {
    return settleFailure(ctx, d, error, lease);
  }
}

/** Validate the message body and its replyTo, and hash the batch's content. */
function parse(ctx: HandlerContext, d: Delivery): Parsed {
  const { settings } = ctx;
  const request = parseRequestMessage(d.message.Body, settings.limits);
  const replyTo = resolveReplyTo(request.replyTo, settings.resultsQueueUrl, settings.replyToAllowlist);
  d.request = request;
  d.log = d.log.child({ batchId: request.batchId });
  // How a batch is routed (mode, deadline) is not part of its content: a batch handed from
  // bulk back to live with mode "live" is the same batch.
  const { mode: _mode, deadline: _deadline, ...content } = request;
  return { request, replyTo, hash: payloadHash(content) };
}

/** Claim the batch's idempotency record for this worker. */
function claimRequest(ctx: HandlerContext, d: Delivery, p: Parsed): Promise<Claim> {
  const { batchId } = p.request;
  return claimBatch(ctx.deps.idempotency, { batchId, payloadHash: p.hash, owner: ctx.owner, leaseMs: ctx.settings.leaseS * 1000 }, d.log);
}

/** Act on a claim: refuse a conflict, defer to a lease holder, republish a completed batch, or take the work. */
async function actOnClaim(ctx: HandlerContext, d: Delivery, p: Parsed, claim: Claim): Promise<Handled> {
  switch (claim.kind) {
    case "conflict":
      throw new InvalidRequestError(
        `batchId ${p.request.batchId} was already used for a different payload (stored ${claim.storedPayloadHash.slice(0, 19)}...); use a new batchId`,
        [],
        "BATCH_ID_CONFLICT",
      );
    case "in-progress":
      return await defer(ctx, d, claim.leaseExpiresAt);
    case "completed":
      return await republish(ctx, d, p.replyTo, claim.result);
    case "leased":
      if (ctx.deps.bulk) {
        const bulk = await routeToBulk(ctx.deps.bulk, d, p, claim.lease);
        if (bulk) return bulk;
      } else if (p.request.mode === "bulk") {
        throw bulkUnavailable();
      }
      return await labelUnderLease(ctx, d, p, claim.lease);
  }
}

/** Send a completed batch's stored result again, without a model call. */
async function republish(ctx: HandlerContext, d: Delivery, replyTo: string, result: LabelResult): Promise<Handled> {
  await publishResult(ctx.deps.sqs, replyTo, result);
  d.result = result;
  d.log.info({ status: result.status }, "duplicate of a completed batch: stored result published again");
  return { ack: true, outcome: "republished" };
}

/**
 * Ask the bulk path whether it takes the batch. Taken (or already held): the record it wrote is
 * durable, so the lease is given up and the message deleted; the bulk path claims the batch
 * again when it publishes. Undefined: the live path labels it under the lease it holds.
 */
async function routeToBulk(bulk: BulkIntake, d: Delivery, p: Parsed, lease: BatchLease): Promise<Handled | undefined> {
  const { request } = p;
  const routed = await bulk.route(request, p.replyTo, p.hash, d.receivedAt, d.log);
  switch (routed.kind) {
    case "live":
      if (request.mode !== undefined && request.mode !== "live") d.log.info({ reason: routed.reason }, "labelled live");
      return undefined;
    case "conflict":
      throw new InvalidRequestError(
        `batchId ${request.batchId} is in the bulk path with a different payload (stored ${routed.storedPayloadHash.slice(0, 19)}...); use a new batchId`,
        [],
        "BATCH_ID_CONFLICT",
      );
    case "accepted":
    case "duplicate":
      await releaseLease(d, lease);
      if (routed.kind === "duplicate") d.log.info({ state: routed.state }, "duplicate of a batch the bulk path holds: message deleted");
      return { ack: true, outcome: routed.kind === "accepted" ? "bulk-accepted" : "bulk-duplicate" };
  }
}

/** Another worker holds the batch: look again soon (growing with each receive), never later than its lease ends. */
async function defer(ctx: HandlerContext, d: Delivery, leaseExpiresAt: number): Promise<Handled> {
  const leaseLeftS = Math.ceil((leaseExpiresAt - Date.now()) / 1000) + 1;
  const wait = Math.min(MAX_RETRY_DELAY_S, leaseLeftS, Math.max(1, retryDelaySeconds(d.receiveCount, ctx.settings.retryBaseDelayS)));
  await d.visibility.set(wait);
  d.log.info({ retryInSeconds: wait }, "batch in progress on another worker; looking again after its lease");
  return { ack: false, outcome: "deferred" };
}

/** Label the batch while renewing its lease, then publish it; an abort is reported by its reason. */
async function labelUnderLease(ctx: HandlerContext, d: Delivery, p: Parsed, lease: BatchLease): Promise<Handled> {
  const { batchId } = p.request;
  const held = holdLease(lease, batchId, ctx.settings.leaseRenewS * 1000, d.log);
  try {
    if (d.signal.aborted) throw new ShuttingDownError();
    const result = await ctx.label(p.request, d.receivedAt, AbortSignal.any([d.signal, held.lost]));
    return await publish(ctx, d, p, lease, result);
  } catch (error) {
    // Whatever the aborted work threw, the reason it stopped is what counts.
    if (held.lost.aborted) throw new LeaseLostError(batchId);
    if (d.signal.aborted) throw new ShuttingDownError();
    throw error;
  } finally {
    held.stop();
  }
}

/** Record the batch COMPLETED (only while this worker still holds it), then publish its result. */
async function publish(ctx: HandlerContext, d: Delivery, p: Parsed, lease: BatchLease, result: LabelResult): Promise<Handled> {
  if (!(await lease.complete(result))) throw new LeaseLostError(p.request.batchId);
  await publishResult(ctx.deps.sqs, p.replyTo, result);
  d.result = result;
  logLabelled(d.log, result);
  return { ack: true, outcome: "published" };
}

/** The one place that decides a failed message's fate, by its error (see toLabelqError and its `retryable`). */
async function settleFailure(ctx: HandlerContext, d: Delivery, thrown: unknown, lease: BatchLease | undefined): Promise<Handled> {
  const error = toLabelqError(thrown);
  if (error instanceof LeaseLostError) {
    d.log.warn("lost the batch lease; the worker that took it over publishes the result");
    return { ack: false, outcome: "lease-lost" };
  }
  if (lease) await releaseLease(d, lease);
  if (error instanceof ShuttingDownError) return await returnToQueue(d);
  if (error instanceof ModelCallError && error.code === "MODEL_QUOTA_EXHAUSTED") return await holdForQuota(ctx, d, error);
  if (!error.retryable) return await deadLetter(ctx, d, error);
  return await retryLater(ctx, d, error, thrown);
}

/** Give up the batch lease, logging (not throwing) when the store cannot be reached. */
async function releaseLease(d: Delivery, lease: BatchLease): Promise<void> {
  await lease.release().catch((e: unknown) => d.log.warn({ err: e }, "could not release the batch lease"));
}

/** The worker is stopping: hand the message to another worker now rather than after the visibility timeout. */
async function returnToQueue(d: Delivery): Promise<Handled> {
  await d.visibility.set(0);
  d.log.info("worker stopping: message returned to the queue");
  return { ack: false, outcome: "returned" };
}

/** A request that can never succeed: copy it to the DLQ with its reason; the message is then deleted. */
async function deadLetter(ctx: HandlerContext, d: Delivery, error: LabelqError): Promise<Handled> {
  const { settings } = ctx;
  const batchId = d.request?.batchId ?? peekBatchId(d.message.Body);
  await sendToDlq(ctx.deps.sqs, settings.dlqUrl, d.message, { error, receiveCount: d.receiveCount, sourceQueue: settings.requestsQueueUrl, batchId });
  d.dlqCode = error.code;
  d.log.warn({ batchId, code: error.code, reason: error.message }, "request sent to the DLQ");
  return { ack: true, outcome: "dead-lettered" };
}

/** A retryable failure: the message becomes visible again after a delay growing with each receive. */
async function retryLater(ctx: HandlerContext, d: Delivery, error: LabelqError, thrown: unknown): Promise<Handled> {
  const delay = retryDelaySeconds(d.receiveCount, ctx.settings.retryBaseDelayS);
  await d.visibility.set(delay);
  d.log.warn({ code: error.code, err: thrown, retryInSeconds: delay }, "batch failed; will retry");
  return { ack: false, outcome: "retry-later" };
}

/**
 * No allowed model can run before its daily quota resets: hide the message until then (at
 * least the normal backoff, at most SQS's 12 h), so waiting costs one receive, not a run of
 * them into the DLQ.
 */
async function holdForQuota(ctx: HandlerContext, d: Delivery, error: ModelCallError): Promise<Handled> {
  const now = Date.now();
  const backoff = retryDelaySeconds(d.receiveCount, ctx.settings.retryBaseDelayS);
  const wait = quotaHoldSeconds(error.resetsAt, now, (now - d.receivedAt.getTime()) / 1000, backoff);
  await d.visibility.set(wait);
  const resetsAt = error.resetsAt === undefined ? undefined : new Date(error.resetsAt).toISOString();
  d.log.warn({ code: error.code, reason: error.message, resetsAt, retryInSeconds: wait }, "daily token quota spent on every allowed model; batch held until it resets");
  return { ack: false, outcome: "quota-hold" };
}

/** Renew a lease every `everyMs` until stopped; `lost` aborts when another worker has taken it. */
function holdLease(lease: BatchLease, batchId: string, everyMs: number, log: Logger): { lost: AbortSignal; stop: () => void } {
  const lost = new AbortController();
  const timer = setInterval(() => {
    lease.renew().then(
      (held) => {
        if (!held) lost.abort(new LeaseLostError(batchId));
      },
      (error: unknown) => log.warn({ err: error }, "could not extend the batch lease"),
    );
  }, everyMs);
  return { lost: lost.signal, stop: () => clearInterval(timer) };
}

/** Log a labelled batch: its status, items, model and usage. */
function logLabelled(log: Logger, result: LabelResult): void {
  const errors = result.items.filter((it) => it.error !== null).length;
  log.info(
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
}

/** Count a handled message: its outcome, latency, texts and errors, with bounded labels. */
function recordOutcome(metrics: Metrics, outcome: MessageOutcome, seen: Delivery, seconds: number): void {
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
