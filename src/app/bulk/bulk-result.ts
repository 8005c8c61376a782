import type { LabelRequest } from "../../core/contracts/request.ts";
import type { LabelResult, ResultItem } from "../../core/contracts/result.ts";
import { screenRequest } from "../../core/classify/label-batch.ts";
import { batchKeys, cacheEntryOf } from "../../core/classify/cache-entries.ts";
import { errorItem, missingItem, resultMessage } from "../../core/classify/result-message.ts";
import type { ModelSpec } from "../../core/models/model-registry.ts";
import { type InferenceParams, promptHash, type ResolvedPrompt } from "../../core/prompts/prompt-registry.ts";
import type { CacheEntry } from "../../core/cache/label-cache.ts";
import type { BatchOutput } from "./sort-batch-output.ts";

/**
 * A bulk batch's result: the job's labels, the live re-ask's labels for the rest, and the usage
 * of both (the job's tokens at batch prices). The same shape as a live result.
 */
export function bulkResult(input: {
  request: LabelRequest;
  /** The taxonomy name as the request resolved it (request.taxonomy or the default). */
  taxonomy: string;
  output: BatchOutput;
  reask?: LabelResult;
  prompt: ResolvedPrompt;
  model: ModelSpec;
  inference: InferenceParams;
  receivedAt: Date;
  completedAt: Date;
  /** Texts longer than this (and empty or blank ones) were never in a record: they get their item error. */
  maxTextChars?: number;
}): LabelResult {
  const { request, output, reask, prompt, model } = input;
  const { usable, unusable } = screenRequest(request, input);
  const labelled = new Map(output.labelled.map((it) => [it.id, it]));
  const reasked = new Map((reask?.items ?? []).map((it) => [it.id, it]));
  const problems = new Map(output.unlabelled.map((p) => [p.id, p]));
  const items = request.items.map((it): ResultItem => {
    const unsent = unusable.get(it.id);
    if (unsent) return unsent;
    const done = labelled.get(it.id);
    if (done) return { ...done, promptVersion: prompt.version };
    const again = reasked.get(it.id);
    if (again) return again;
    const problem = problems.get(it.id);
    return problem ? errorItem(it.id, problem.code, problem.message) : missingItem(it.id);
  });
  const live = reask?.usage;
  return resultMessage({
    request,
    taxonomy: input.taxonomy,
    promptVersion: prompt.version,
    promptHash: promptHash(prompt, model.modelId, input.inference),
    model: model.alias,
    items,
    usage: {
      // Each answered or failed record was one model invocation.
      modelCalls: output.records.answered + output.records.failed + (live?.modelCalls ?? 0),
      inputTokens: output.usage.inputTokens + (live?.inputTokens ?? 0),
      outputTokens: output.usage.outputTokens + (live?.outputTokens ?? 0),
      cacheReadInputTokens: live?.cacheReadInputTokens ?? 0,
      cacheWriteInputTokens: live?.cacheWriteInputTokens ?? 0,
      // Batch records reserve none of the on-demand quota; only the live re-asks did.
      reservedTokens: live?.reservedTokens ?? 0,
      costUsd: output.usage.costUsd + (live?.costUsd ?? 0),
    },
    cacheHits: live?.cacheHits ?? 0,
    sentToModel: usable.length - (live?.cacheHits ?? 0),
    receivedAt: input.receivedAt,
    completedAt: input.completedAt,
  });
}

/**
 * Cache entries for texts a job labelled, keyed as the live path keys them (labelBatch): text,
 * taxonomy, prompt context, model id and sampling, with each dimension's definition hash.
 */
export function bulkCacheEntries(
  request: LabelRequest,
  taxonomy: string,
  labelled: readonly ResultItem[],
  prompt: ResolvedPrompt,
  model: ModelSpec,
  inference: InferenceParams,
  expiresAt: number,
): CacheEntry[] {
  const keys = batchKeys(request, { taxonomy, prompt, model, inference });
  return labelled.map((item) => cacheEntryOf(item, keys, { prompt, model }, expiresAt));
}
