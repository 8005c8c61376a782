import type { Logger } from "pino";
import { planCall } from "../../core/classify/call-model.ts";
import { type LabelBatchSettings, resolveModel, resolveTier, screenRequest } from "../../core/classify/label-batch.ts";
import type { LabelRequest } from "../../core/contracts/request.ts";
import { InvalidRequestError } from "../../core/errors/errors.ts";
import { reservedTokens } from "../../core/quota/bedrock-quota.ts";
import type { ModelSpec } from "../../core/models/model-registry.ts";
import type { Metrics } from "../../core/observability/metrics.ts";
import { resolveInference } from "../../core/models/sampling.ts";
import type { PromptRegistry } from "../../core/prompts/prompt-registry.ts";
import { decideMode, type LiveCost, type PolicySettings } from "./bulk-policy.ts";
import type { BulkStore, IntakeState } from "../../core/bulk/bulk-store.ts";
import { MAX_STORED_REQUEST_BYTES, storedRequest } from "../../adapters/dynamodb/dynamo-bulk-store.ts";

/**
 * What became of a request at the door:
 * - live: the live path labels it now (`reason` says why not bulk);
 * - accepted: recorded as a pending bulk batch; its message may be deleted;
 * - duplicate: already taken into bulk (a redelivery); its message may be deleted;
 * - conflict: its batchId is in bulk with a different payload.
 */
export type RouteOutcome =
  | { kind: "live"; reason: string }
  | { kind: "accepted"; reason: string }
  | { kind: "duplicate"; state: IntakeState }
  | { kind: "conflict"; storedPayloadHash: string };

export interface BulkRouterDeps {
  store: BulkStore;
  prompts: PromptRegistry;
  settings: LabelBatchSettings;
  /** The on-demand quota that drains a model's backlog (drainQuota: LABELQ_QUOTA_* / LABELQ_QUOTAS, or the sum over LABELQ_POOLS). */
  quotaFor: (alias: string) => { rpm: number; tpm: number };
  /** Messages waiting on the requests queue. */
  backlog: () => Promise<number>;
  bulkEnabled: boolean;
  policy: PolicySettings;
  now?: () => number;
  /** labelq_bulk_batches_total{outcome="accepted"} counts the batches taken in. */
  metrics?: Metrics;
}

/** Decides live or bulk for each request (decideMode) and takes bulk ones in durably. */
export class BulkRouter {
  readonly #deps: BulkRouterDeps;

  constructor(deps: BulkRouterDeps) {
    this.#deps = deps;
  }

  /**
   * Route one validated request. Throws InvalidRequestError for an explicit bulk request that
   * cannot be bulk (the DLQ, never retried), StoreError when the bulk table is unreachable.
   */
  async route(request: LabelRequest, replyTo: string, payloadHash: string, receivedAt: Date, log: Logger): Promise<RouteOutcome> {
    const d = this.#deps;
    if (request.mode === "live") return { kind: "live", reason: "the request asked for live" };
    if (!d.bulkEnabled && request.mode !== "bulk") return { kind: "live", reason: "the bulk path is not configured" };
    // A redelivered bulk batch is recognised before any policy runs: the policy's inputs change.
    const existing = await d.store.findIntake(request.batchId);
    if (existing) {
      return existing.payloadHash === payloadHash ? { kind: "duplicate", state: existing.state } : { kind: "conflict", storedPayloadHash: existing.payloadHash };
    }
    // Nothing to put in a job: the live path answers every item with its error and calls no model.
    if (screenRequest(request, d.settings).usable.length === 0) return { kind: "live", reason: "no text in the batch can be labelled" };
    const model = resolveModel(request.model ?? d.settings.defaultModel, d.settings);
    resolveTier(request, model, d.settings, (d.now ?? Date.now)());
    // Batch inference has no service tiers: a tier the producer asked for is served live.
    if (request.tier !== undefined && request.tier !== "default") {
      if (request.mode === "bulk") throw new InvalidRequestError(`tier "${request.tier}" with mode "bulk": batch inference has no service tiers; leave out one of them`, [], "TIER_NOT_OFFERED");
      return { kind: "live", reason: `the request asked for the ${request.tier} service tier, which batch inference does not have` };
    }
    const decision = decideMode({
      requested: request.mode,
      bulkEnabled: d.bulkEnabled,
      model,
      backlogTexts: request.mode === "bulk" ? 0 : (await d.backlog()) * request.items.length,
      liveCost: await this.#liveCost(request, model),
      quota: d.quotaFor(model.alias),
      deadline: request.deadline,
      now: (d.now ?? Date.now)(),
      settings: d.policy,
    });
    if (decision.mode === "live") return { kind: "live", reason: decision.reason };
    if (storedRequest(request).byteLength > MAX_STORED_REQUEST_BYTES) {
      return { kind: "live", reason: `the request is over ${MAX_STORED_REQUEST_BYTES} bytes gzipped, too large for a bulk intake record` };
    }
    const accepted = await d.store.accept({ batchId: request.batchId, payloadHash, model: model.alias, request, replyTo, receivedAt: receivedAt.toISOString() });
    if (accepted.kind === "accepted") {
      d.metrics?.bulkBatches.inc({ outcome: "accepted", model: model.alias });
      log.info({ model: model.alias, texts: request.items.length, reason: decision.reason }, "batch taken into the bulk path");
    }
    return accepted.kind === "accepted" ? { kind: "accepted", reason: decision.reason } : accepted;
  }

  /**
   * Quota tokens per text and texts per call of labelling this request live (planCall on its first
   * chunk), as a function: pricing tokenizes the texts, so decideMode calls it only when the drain
   * time decides. The prompt is resolved here, so an unknown taxonomy or version fails as before.
   */
  async #liveCost(request: LabelRequest, model: ModelSpec): Promise<() => LiveCost> {
    const d = this.#deps;
    const prompt = await d.prompts.resolve(request.taxonomy ?? d.settings.defaultTaxonomy, request.promptVersion ?? d.settings.defaultPromptVersion);
    return () => {
      const inference = resolveInference(prompt, model, request.inference);
      const texts = request.items.slice(0, d.settings.chunkSize).map((it) => it.text);
      const plan = planCall(texts, prompt, { model, inference });
      return { tokensPerText: reservedTokens(plan.reserve) / Math.max(1, texts.length), textsPerCall: texts.length };
    };
  }
}
