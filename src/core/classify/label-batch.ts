import { DEFAULT_REQUEST_LIMITS, type LabelRequest } from "../contracts/request.ts";
import { screenItems, type UnusableItem } from "../contracts/text-checks.ts";
import type { LabelResult, LabelValue, ResultItem } from "../contracts/result.ts";
import { InvalidRequestError } from "../errors/errors.ts";
import { acceptsSampling } from "../models/sampling.ts";
import type { ModelCatalogue } from "../models/model-catalogue.ts";
import { DEFAULT_CATALOGUE, type ModelSpec } from "../models/model-registry.ts";
import { resolveInference } from "../models/sampling.ts";
import { forFormat, type InferenceParams, promptHash, type PromptRegistry, type ResolvedPrompt, subsetPrompt } from "../prompts/prompt-registry.ts";
import { cacheKey } from "../cache/cache-key.ts";
import { promptContextHash } from "../taxonomy/dimension-hashes.ts";
import type { CacheEntry, LabelCache } from "../cache/label-cache.ts";
import { cacheExpiresAt } from "../cache/cache-expiry.ts";
import { classifyItems, type ClassifyDeps, type ClassifyOutcome } from "./classify-items.ts";
import { RetryBudget } from "./retry-policy.ts";
import { addUsage, noUsage } from "./usage.ts";
import { errorItem, missingItem, resultMessage } from "./result-message.ts";
import { DEFAULTS } from "../config/config.ts";

export interface LabelBatchSettings {
  defaultTaxonomy: string;
  defaultPromptVersion: string;
  defaultModel: string;
  /** Aliases a request may choose besides the default. */
  allowedModels: readonly string[];
  /** Aliases that take over, in order, when the chosen model fails (see classifyItems). */
  fallbackModels?: readonly string[];
  chunkSize: number;
  maxReaskRounds: number;
  /** How long cached labels stay valid; default 30 days. */
  cacheTtlDays?: number;
  /** Seconds a batch may spend waiting to retry model calls before it goes back to the queue; default 60. */
  retryBudgetS?: number;
  /** The configured model catalogue (modelCatalogueFor(config) in src/app/worker/worker.ts); default the packaged one (us geography). */
  catalogue?: ModelCatalogue;
  /** Longest text sent to the model (LABELQ_MAX_TEXT_CHARS); a longer one gets TEXT_TOO_LONG. Default 5,000. */
  maxTextChars?: number;
}

export interface LabelBatchDeps extends ClassifyDeps {
  prompts: PromptRegistry;
  /** Per-text label cache; absent when turned off. */
  cache?: LabelCache;
  now?: () => number;
}

/** Resolve a request's model alias against the registry and the allow-list; unknown or not allowed is a bad request. */
export function resolveModel(alias: string, settings: LabelBatchSettings): ModelSpec {
  const allowed = alias === settings.defaultModel || settings.allowedModels.includes(alias);
  const model = (settings.catalogue ?? DEFAULT_CATALOGUE).find(alias);
  const choices = [settings.defaultModel, ...settings.allowedModels].join(", ");
  if (!model) throw new InvalidRequestError(`Model "${alias}" does not exist (allowed here: ${choices})`, [], "MODEL_NOT_ALLOWED");
  if (!allowed) throw new InvalidRequestError(`Model "${alias}" is not allowed here (allowed: ${choices})`, [], "MODEL_NOT_ALLOWED");
  return model;
}

type Item = LabelRequest["items"][number];

/** The result item of a text that is not sent to the model (see screenItems). */
export function unusableResultItem({ id, problem }: UnusableItem): ResultItem {
  return errorItem(id, problem.code, problem.message);
}

/** The batch's texts that go to the model, and the result items of those that do not (empty, blank, too long). */
export function screenRequest(request: LabelRequest, settings: Pick<LabelBatchSettings, "maxTextChars">): { usable: Item[]; unusable: Map<string, ResultItem> } {
  const { usable, unusable } = screenItems(request.items, settings.maxTextChars ?? DEFAULT_REQUEST_LIMITS.maxTextChars);
  return { usable, unusable: new Map(unusable.map((u) => [u.id, unusableResultItem(u)])) };
}

/**
 * Label one validated batch request and build its result message. Knows nothing of queues.
 * Texts the model cannot be asked about (empty, blank, too long) get an item error and are
 * neither sent nor cached. Texts whose labels are all cached skip the model; texts cached under
 * older definitions of some dimensions are asked only for those dimensions; the rest get the
 * full prompt.
 */
export async function labelBatch(
  request: LabelRequest,
  receivedAt: Date,
  settings: LabelBatchSettings,
  deps: LabelBatchDeps,
  signal?: AbortSignal,
): Promise<LabelResult> {
  const now = deps.now ?? Date.now;
  const taxonomyName = request.taxonomy ?? settings.defaultTaxonomy;
  const modelAlias = request.model ?? settings.defaultModel;
  const model = resolveModel(modelAlias, settings);
  const prompt = await deps.prompts.resolve(taxonomyName, request.promptVersion ?? settings.defaultPromptVersion);
  const inferenceFor = (m: ModelSpec): InferenceParams => resolveInference(prompt, m, request.inference);
  const inference = inferenceFor(model);
  const fallbacks = (settings.fallbackModels ?? [])
    .filter((alias) => alias !== modelAlias)
    .map((alias) => (settings.catalogue ?? DEFAULT_CATALOGUE).find(alias))
    .filter((m): m is ModelSpec => m !== undefined)
    // A fallback that cannot take the request's sampling overrides is skipped, not sent other sampling.
    .flatMap((m) => (acceptsSampling(m, request.inference) ? [{ model: m, inference: inferenceFor(m) }] : []));
  const mode = request.cache ?? "use";
  const cache = mode === "bypass" ? undefined : deps.cache;
  const context = promptContextHash(prompt.taxonomy, prompt.template);
  const keyOf = (it: Item) => cacheKey(it.text, { taxonomy: taxonomyName, context, modelId: model.modelId, format: model.outputFormat, inference });
  const { usable, unusable } = screenRequest(request, settings);
  const cached = cache && mode === "use" && usable.length > 0 ? await cache.getMany(usable.map(keyOf)) : new Map<string, CacheEntry>();

  // Sort every text into: fully cached, cached except some dimensions, not cached.
  const fromCache = new Map<string, ResultItem>();
  const misses: Item[] = [];
  const stale = new Map<string, { dims: Set<string>; items: Item[] }>();
  for (const it of usable) {
    const entry = cached.get(keyOf(it));
    if (!entry) {
      misses.push(it);
      continue;
    }
    const changed = prompt.taxonomy.dimensions.filter((d) => entry.labels[d.key]?.h !== prompt.dimensionHashes[d.key]).map((d) => d.key);
    if (changed.length === 0) {
      fromCache.set(it.id, { id: it.id, labels: labelsFrom(prompt, entry, new Set()), source: "cache", model: entry.model, error: null });
    } else {
      const group = stale.get(changed.join(",")) ?? { dims: new Set(changed), items: [] };
      group.items.push(it);
      stale.set(changed.join(","), group);
    }
  }

  const expiresAt = () => cacheExpiresAt(now(), settings.cacheTtlDays);
  const textOf = new Map(request.items.map((it) => [it.id, it.text]));
  const keyOfId = (id: string) => keyOf({ id, text: textOf.get(id) ?? "" });
  const toEntry = (item: ResultItem, labels: Record<string, LabelValue>): CacheEntry => ({
    key: keyOfId(item.id),
    labels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, { h: prompt.dimensionHashes[k] ?? "", v }])),
    model: item.model ?? model.modelId,
    promptVersion: prompt.version,
    expiresAt: expiresAt(),
  });

  const retryBudget = new RetryBudget((settings.retryBudgetS ?? DEFAULTS.retryBudgetS) * 1000);
  const common = { model, inference, fallbacks, retryBudget, chunkSize: settings.chunkSize, maxReaskRounds: settings.maxReaskRounds };
  const runs: Promise<ClassifyOutcome>[] = [];
  if (misses.length > 0) {
    runs.push(
      classifyItems(
        { ...common, items: misses, prompt, onLabelled: async (items) => cache?.putMany(items.map((i) => toEntry(i, i.labels ?? {}))) },
        deps,
        signal,
      ),
    );
  }
  for (const group of stale.values()) {
    // Fresh labels for the group's changed dimensions, cached ones for the rest.
    const merge = (item: ResultItem): ResultItem => {
      const entry = cached.get(keyOfId(item.id));
      return item.labels && entry ? { ...item, labels: labelsFrom(prompt, entry, group.dims, item.labels) } : item;
    };
    const run = classifyItems(
      {
        ...common,
        items: group.items,
        prompt: subsetPrompt(prompt, group.dims),
        onLabelled: async (items) => cache?.putMany(items.map(merge).map((i) => toEntry(i, i.labels ?? {}))),
      },
      deps,
      signal,
    );
    runs.push(run.then((r) => ({ ...r, items: r.items.map(merge) })));
  }
  // The groups run side by side (the limiter bounds the calls); every one settles before the
  // batch fails, so no group is still calling the model or writing the cache after it.
  const settled = await Promise.allSettled(runs);
  const failure = settled.find((s) => s.status === "rejected");
  if (failure) throw failure.reason;
  const outcomes = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));

  if (cache && mode === "use") {
    const partial = [...stale.values()].reduce((n, g) => n + g.items.length, 0);
    deps.metrics?.cacheLookups.inc({ result: "hit" }, fromCache.size);
    deps.metrics?.cacheLookups.inc({ result: "partial" }, partial);
    deps.metrics?.cacheLookups.inc({ result: "miss" }, misses.length);
  }
  const answered = new Map(outcomes.flatMap((r) => r.items).map((it) => [it.id, it]));
  const items = request.items.map(
    (it): ResultItem =>
      unusable.get(it.id) ??
      fromCache.get(it.id) ??
      answered.get(it.id) ?? missingItem(it.id),
  );
  // The model refused every text it was asked about (no model access, input too long...): a
  // batch-level failure for the DLQ, replayable once the cause is fixed, not a result of errors.
  const rejection = outcomes.find((r) => r.rejection)?.rejection;
  // Texts never sent (item errors of their own) do not make it a result.
  if (rejection && fromCache.size === 0 && items.every((it) => unusable.has(it.id) || it.error?.code === "MODEL_REJECTED_REQUEST")) throw rejection;

  return resultMessage({
    request,
    taxonomy: taxonomyName,
    promptVersion: prompt.version,
    promptHash: promptHash(forFormat(prompt, model.outputFormat), model.modelId, inference),
    model: modelAlias,
    items,
    usage: outcomes.map((r) => r.usage).reduce(addUsage, noUsage()),
    cacheHits: fromCache.size,
    sentToModel: usable.length - fromCache.size,
    receivedAt,
    completedAt: new Date(now()),
  });
}

/** Labels in taxonomy order: cached values for dimensions not in `fresh`, new values for the rest. */
function labelsFrom(
  prompt: ResolvedPrompt,
  entry: CacheEntry,
  freshDims: ReadonlySet<string>,
  fresh: Record<string, LabelValue> = {},
): Record<string, LabelValue> {
  return Object.fromEntries(
    prompt.taxonomy.dimensions.map((d) => [d.key, freshDims.has(d.key) ? (fresh[d.key] ?? null) : (entry.labels[d.key]?.v ?? null)]),
  );
}

