import { DEFAULT_REQUEST_LIMITS, type LabelRequest } from "../contracts/request.ts";
import { screenItems, type UnusableItem } from "../contracts/text-checks.ts";
import type { LabelResult, LabelValue, ResultItem } from "../contracts/result.ts";
import { InvalidRequestError } from "../errors/errors.ts";
import { acceptsSampling } from "../models/sampling.ts";
import type { ModelCatalogue } from "../models/model-catalogue.ts";
import { DEFAULT_CATALOGUE, type ModelSpec } from "../models/model-registry.ts";
import { resolveInference } from "../models/sampling.ts";
import { offersTier, type TierPolicy, type WantedTier, wantedTier } from "../models/service-tiers.ts";
import { forFormat, type InferenceParams, promptHash, type PromptRegistry, type ResolvedPrompt, subsetPrompt } from "../prompts/prompt-registry.ts";
import type { CacheEntry, LabelCache } from "../cache/label-cache.ts";
import { cacheExpiresAt } from "../cache/cache-expiry.ts";
import { classifyItems, type ClassifyDeps, type ClassifyInput, type ClassifyOutcome } from "./classify-items.ts";
import { RetryBudget } from "./retry-policy.ts";
import { addUsage, noUsage } from "./usage.ts";
import { errorItem, missingItem, resultMessage } from "./result-message.ts";
import { DEFAULTS } from "../config/config.ts";
import type { ModelChoice } from "./model-choice.ts";
import { settleAll } from "./settle-all.ts";
import { batchKeys, type BatchKeys, cacheEntryOf } from "./cache-entries.ts";

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
  /** How a request without a `tier` gets one from its deadline (config.tiers); absent: it gets none. */
  tierPolicy?: TierPolicy;
}

export interface LabelBatchDeps extends ClassifyDeps {
  prompts: PromptRegistry;
  /** The batch's waiting budget, when one batch makes several labelBatch runs (routes); absent: each run has its own. */
  retryBudget?: RetryBudget;
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

/**
 * The service tier a request's batch asks for (see wantedTier). A tier the request names itself
 * must be offered by its model: a bad request otherwise, never retried. A tier the policy chose
 * is only a preference, sent to the models that offer it.
 */
export function resolveTier(request: Pick<LabelRequest, "tier" | "deadline">, model: ModelSpec, settings: Pick<LabelBatchSettings, "tierPolicy">, now: number): WantedTier | undefined {
  if (request.tier !== undefined && !offersTier(model, request.tier)) {
    const offered = model.serviceTiers.join(", ");
    throw new InvalidRequestError(`Model "${model.alias}" does not offer the "${request.tier}" service tier (it offers: ${offered})`, [`tier: "${request.tier}" is not offered by ${model.alias}`], "TIER_NOT_OFFERED");
  }
  return wantedTier(request.tier, request.deadline, settings.tierPolicy, now);
}

/**
 * The request as a route sends it to another model (a canary, shadow or cascade student): the
 * tier check was made against the model the producer named, so a tier the routed model does not
 * offer is dropped for its part rather than refused.
 */
export function routedRequest(request: LabelRequest, alias: string, settings: Pick<LabelBatchSettings, "catalogue">): LabelRequest {
  const spec = (settings.catalogue ?? DEFAULT_CATALOGUE).find(alias);
  const { tier, ...rest } = request;
  return tier !== undefined && spec !== undefined && !offersTier(spec, tier) ? { ...rest, model: alias } : { ...request, model: alias };
}

/** The result item of a text that is not sent to the model (see screenItems). */
export function unusableResultItem({ id, problem }: UnusableItem): ResultItem {
  return errorItem(id, problem.code, problem.message);
}

/** The batch's texts that go to the model, and the result items of those that do not (empty, blank, too long). */
export function screenRequest(request: LabelRequest, settings: Pick<LabelBatchSettings, "maxTextChars">): { usable: Item[]; unusable: Map<string, ResultItem> } {
  const { usable, unusable } = screenItems(request.items, settings.maxTextChars ?? DEFAULT_REQUEST_LIMITS.maxTextChars);
  return { usable, unusable: new Map(unusable.map((u) => [u.id, unusableResultItem(u)])) };
}

/** What a request resolves to: taxonomy, prompt, model and sampling, and the fallbacks that take its sampling. */
export interface BatchPlan {
  taxonomyName: string;
  modelAlias: string;
  model: ModelSpec;
  prompt: ResolvedPrompt;
  inference: InferenceParams;
  fallbacks: ModelChoice[];
  /** The service tier the batch asks for; absent: none. */
  tier?: WantedTier;
  hasDeadline: boolean;
}

/** The usable texts sorted by what the label cache holds for them. */
interface CacheSort {
  /** Every dimension cached under its current definition: answered from the cache. */
  fromCache: Map<string, ResultItem>;
  /** Nothing cached: the full prompt. */
  misses: Item[];
  /** Cached under older definitions of some dimensions: asked only for those, grouped by them. */
  stale: Map<string, { dims: Set<string>; items: Item[] }>;
  /** The entries found, by cache key. */
  cached: Map<string, CacheEntry>;
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
  const plan = await planBatch(request, settings, deps.prompts, now());
  const mode = request.cache ?? "use";
  const cache = mode === "bypass" ? undefined : deps.cache;
  const keys = batchKeys(request, { ...plan, taxonomy: plan.taxonomyName });
  const { usable, unusable } = screenRequest(request, settings);
  const sorted = await sortByCache(usable, mode === "use" ? cache : undefined, keys, plan.prompt);
  const expiresAt = () => cacheExpiresAt(now(), settings.cacheTtlDays);
  const writeCache = async (items: ResultItem[]) => cache?.putMany(items.map((item) => cacheEntryOf(item, keys, plan, expiresAt())));
  const outcomes = await classifyUncached(sorted, { plan, settings, keys, writeCache }, deps, signal);
  if (cache && mode === "use") countCacheLookups(sorted, deps);

  const answered = new Map(outcomes.flatMap((r) => r.items).map((it) => [it.id, it]));
  const items = request.items.map((it) => unusable.get(it.id) ?? sorted.fromCache.get(it.id) ?? answered.get(it.id) ?? missingItem(it.id));
  throwIfAllRejected(outcomes, items, { unusable, fromCache: sorted.fromCache });
  return resultMessage({
    request,
    taxonomy: plan.taxonomyName,
    promptVersion: plan.prompt.version,
    promptHash: planHash(plan),
    model: plan.modelAlias,
    items,
    usage: outcomes.map((r) => r.usage).reduce(addUsage, noUsage()),
    cacheHits: sorted.fromCache.size,
    sentToModel: usable.length - sorted.fromCache.size,
    receivedAt,
    completedAt: new Date(now()),
  });
}

/** Resolve the request's taxonomy, prompt, model and sampling, and the fallbacks that can take its sampling. */
export async function planBatch(request: LabelRequest, settings: LabelBatchSettings, prompts: PromptRegistry, now: number): Promise<BatchPlan> {
  const taxonomyName = request.taxonomy ?? settings.defaultTaxonomy;
  const modelAlias = request.model ?? settings.defaultModel;
  const model = resolveModel(modelAlias, settings);
  const tier = resolveTier(request, model, settings, now);
  const prompt = await prompts.resolve(taxonomyName, request.promptVersion ?? settings.defaultPromptVersion);
  const inferenceFor = (m: ModelSpec): InferenceParams => resolveInference(prompt, m, request.inference);
  const fallbacks = (settings.fallbackModels ?? [])
    .filter((alias) => alias !== modelAlias)
    .map((alias) => (settings.catalogue ?? DEFAULT_CATALOGUE).find(alias))
    .filter((m): m is ModelSpec => m !== undefined)
    // A fallback that cannot take the request's sampling overrides is skipped, not sent other sampling.
    .flatMap((m) => (acceptsSampling(m, request.inference) ? [{ model: m, inference: inferenceFor(m) }] : []));
  return { taxonomyName, modelAlias, model, prompt, inference: inferenceFor(model), fallbacks, ...(tier ? { tier } : {}), hasDeadline: request.deadline !== undefined };
}

/** Look the texts up in the cache (when it is read) and sort them: fully cached, cached except some dimensions, not cached. */
async function sortByCache(usable: readonly Item[], cache: LabelCache | undefined, keys: BatchKeys, prompt: ResolvedPrompt): Promise<CacheSort> {
  const cached = cache && usable.length > 0 ? await cache.getMany(usable.map((it) => keys.ofText(it.text))) : new Map<string, CacheEntry>();
  const sorted: CacheSort = { fromCache: new Map(), misses: [], stale: new Map(), cached };
  for (const it of usable) {
    const entry = cached.get(keys.ofText(it.text));
    if (!entry) {
      sorted.misses.push(it);
      continue;
    }
    const changed = prompt.taxonomy.dimensions.filter((d) => entry.labels[d.key]?.h !== prompt.dimensionHashes[d.key]).map((d) => d.key);
    if (changed.length === 0) {
      sorted.fromCache.set(it.id, { id: it.id, labels: labelsFrom(prompt, entry, new Set()), source: "cache", model: entry.model, error: null });
      continue;
    }
    const group = sorted.stale.get(changed.join(",")) ?? { dims: new Set(changed), items: [] };
    group.items.push(it);
    sorted.stale.set(changed.join(","), group);
  }
  return sorted;
}

/** What classifying the uncached texts needs besides the texts. */
interface UncachedRun {
  plan: BatchPlan;
  settings: LabelBatchSettings;
  keys: BatchKeys;
  /** Cache the labels of texts as soon as a call labels them. */
  writeCache: (items: ResultItem[]) => Promise<void>;
}

/** Ask the model for the misses (full prompt) and each stale group (its changed dimensions), side by side. */
async function classifyUncached(sorted: CacheSort, run: UncachedRun, deps: LabelBatchDeps, signal?: AbortSignal): Promise<ClassifyOutcome[]> {
  const { plan, settings } = run;
  const common = classifyInputOf(plan, settings, deps.retryBudget);
  const runs: Promise<ClassifyOutcome>[] = [];
  if (sorted.misses.length > 0) runs.push(classifyItems({ ...common, items: sorted.misses, prompt: plan.prompt, onLabelled: run.writeCache }, deps, signal));
  for (const group of sorted.stale.values()) {
    // Fresh labels for the group's changed dimensions, cached ones for the rest.
    const merge = (item: ResultItem): ResultItem => {
      const entry = sorted.cached.get(run.keys.ofId(item.id));
      return item.labels && entry ? { ...item, labels: labelsFrom(plan.prompt, entry, group.dims, item.labels) } : item;
    };
    const prompt = subsetPrompt(plan.prompt, group.dims);
    const classified = classifyItems({ ...common, items: group.items, prompt, onLabelled: (items) => run.writeCache(items.map(merge)) }, deps, signal);
    runs.push(classified.then((r) => ({ ...r, items: r.items.map(merge) })));
  }
  // The groups run side by side (the limiter bounds the calls); every one settles before the
  // batch fails, so no group is still calling the model or writing the cache after it.
  return settleAll(runs);
}

/** A batch's budget for waiting between retried calls (LABELQ_RETRY_BUDGET_S). */
export function batchRetryBudget(settings: Pick<LabelBatchSettings, "retryBudgetS">): RetryBudget {
  return new RetryBudget((settings.retryBudgetS ?? DEFAULTS.retryBudgetS) * 1000);
}

/** The prompt hash a result carries: the prompt in the model's answer format, the model id and the sampling. */
export function planHash(plan: BatchPlan): string {
  return promptHash(forFormat(plan.prompt, plan.model.outputFormat), plan.model.modelId, plan.inference);
}

/** What every classifyItems call of a planned batch shares: its model, sampling, fallbacks, tier, chunking and one retry budget. */
export function classifyInputOf(plan: BatchPlan, settings: LabelBatchSettings, budget?: RetryBudget): Omit<ClassifyInput, "items" | "prompt" | "onLabelled"> {
  const retryBudget = budget ?? batchRetryBudget(settings);
  const tier = plan.tier ? { tier: plan.tier, hasDeadline: plan.hasDeadline } : {};
  return { model: plan.model, inference: plan.inference, fallbacks: plan.fallbacks, retryBudget, chunkSize: settings.chunkSize, maxReaskRounds: settings.maxReaskRounds, ...tier };
}

function countCacheLookups(sorted: CacheSort, deps: LabelBatchDeps): void {
  const partial = [...sorted.stale.values()].reduce((n, g) => n + g.items.length, 0);
  deps.metrics?.cacheLookups.inc({ result: "hit" }, sorted.fromCache.size);
  deps.metrics?.cacheLookups.inc({ result: "partial" }, partial);
  deps.metrics?.cacheLookups.inc({ result: "miss" }, sorted.misses.length);
}

/**
 * The model refused every text it was asked about (no model access, input too long...): a
 * batch-level failure for the DLQ, replayable once the cause is fixed, not a result of errors.
 * Texts never sent (item errors of their own) do not make it a result; cached ones do.
 */
function throwIfAllRejected(
  outcomes: readonly ClassifyOutcome[],
  items: readonly ResultItem[],
  unsent: { unusable: ReadonlyMap<string, ResultItem>; fromCache: ReadonlyMap<string, ResultItem> },
): void {
  const rejection = outcomes.find((r) => r.rejection)?.rejection;
  if (!rejection || unsent.fromCache.size > 0) return;
  if (items.every((it) => unsent.unusable.has(it.id) || it.error?.code === "MODEL_REJECTED_REQUEST")) throw rejection;
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

