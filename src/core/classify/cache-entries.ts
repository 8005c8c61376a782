import type { LabelRequest } from "../contracts/request.ts";
import type { ResultItem } from "../contracts/result.ts";
import { cacheKey } from "../cache/cache-key.ts";
import type { CacheEntry } from "../cache/label-cache.ts";
import type { ModelSpec } from "../models/model-registry.ts";
import type { InferenceParams, ResolvedPrompt } from "../prompts/prompt-registry.ts";
import { promptContextHash } from "../taxonomy/dimension-hashes.ts";

/** What a batch's texts were labelled with: the scope of their cache keys and entries. */
export interface LabelScope {
  /** The taxonomy name as the request resolved it (request.taxonomy or the default). */
  taxonomy: string;
  prompt: ResolvedPrompt;
  model: ModelSpec;
  inference: InferenceParams;
}

/** A batch's cache keys, by text or by item id. */
export interface BatchKeys {
  ofText: (text: string) => string;
  ofId: (id: string) => string;
}

/**
 * Cache keys as the live path (labelBatch) and the bulk path share them: text, taxonomy,
 * prompt context, model id, answer format and sampling.
 */
export function batchKeys(request: Pick<LabelRequest, "items">, scope: LabelScope): BatchKeys {
  const { prompt, model } = scope;
  const keyScope = { taxonomy: scope.taxonomy, context: promptContextHash(prompt.taxonomy, prompt.template), modelId: model.modelId, format: model.outputFormat, inference: scope.inference };
  const textOf = new Map(request.items.map((it) => [it.id, it.text]));
  const ofText = (text: string) => cacheKey(text, keyScope);
  return { ofText, ofId: (id) => ofText(textOf.get(id) ?? "") };
}

/** The cache entry of a labelled text, each dimension with its definition hash. */
export function cacheEntryOf(item: ResultItem, keys: BatchKeys, scope: Pick<LabelScope, "prompt" | "model">, expiresAt: number): CacheEntry {
  const { prompt } = scope;
  return {
    key: keys.ofId(item.id),
    labels: Object.fromEntries(Object.entries(item.labels ?? {}).map(([k, v]) => [k, { h: prompt.dimensionHashes[k] ?? "", v }])),
    model: item.model ?? scope.model.modelId,
    promptVersion: prompt.version,
    expiresAt,
  };
}
