import type { LabelRequest } from "../contracts/request.ts";
import type { LabelResult, LabelValue, ResultItem } from "../contracts/result.ts";
import { textErrorCodes } from "../contracts/text-checks.ts";
import { labelBatch, type LabelBatchDeps, type LabelBatchSettings } from "./label-batch.ts";
import { routeText } from "./prompt-routing.ts";
import type { ShadowRecorder } from "./shadow-recorder.ts";
import { resultMessage } from "./result-message.ts";
import { addUsage, noUsage } from "./usage.ts";

export interface RoutedBatchDeps extends LabelBatchDeps {
  /** Sums shadow agreement for `labelq eval canary`; absent: Prometheus only. */
  shadow?: ShadowRecorder;
}

/**
 * Label a batch as its prompt alias routes it (see routeText): texts in the alias's canary
 * share are answered by the canary version; texts in its shadow share are answered by the
 * alias's version and labelled by the shadow version too, whose labels are only compared
 * (Prometheus, and the shadow recorder), never returned. Every result item says which version
 * labelled it. An alias without shares is labelBatch as it was. A failing shadow run costs the
 * batch nothing but its comparison.
 */
export async function labelRoutedBatch(
  request: LabelRequest,
  receivedAt: Date,
  settings: LabelBatchSettings,
  deps: RoutedBatchDeps,
  signal?: AbortSignal,
): Promise<LabelResult> {
  const taxonomy = request.taxonomy ?? settings.defaultTaxonomy;
  const alias = request.promptVersion ?? settings.defaultPromptVersion;
  const routes = await deps.prompts.routes(taxonomy, alias);
  if (!routes.canary && !routes.shadow) {
    const result = await labelBatch(request, receivedAt, settings, deps, signal);
    return { ...result, items: result.items.map((it) => ({ ...it, promptVersion: result.promptVersion })) };
  }

  const scope = `${taxonomy}:${alias}`;
  const routed = request.items.map((it) => ({ item: it, route: routeText(it.text, routes, scope) }));
  const byVersion = new Map<string, LabelRequest["items"]>();
  for (const { item, route } of routed) byVersion.set(route.version, [...(byVersion.get(route.version) ?? []), item]);
  const shadowItems = routed.filter((r) => r.route.shadow !== undefined).map((r) => r.item);

  const runs = await Promise.all(
    [...byVersion.entries()].map(async ([version, items]) => labelBatch({ ...request, promptVersion: version, items }, receivedAt, settings, deps, signal)),
  );
  let shadowRun: LabelResult | undefined;
  if (routes.shadow && shadowItems.length > 0) {
    try {
      shadowRun = await labelBatch({ ...request, promptVersion: routes.shadow.version, items: shadowItems }, receivedAt, settings, deps, signal);
    } catch (error) {
      if (signal?.aborted) throw error;
      deps.logger.warn({ err: error, taxonomy, alias, shadow: routes.shadow.version }, "shadow labelling failed: this batch has no shadow comparison");
    }
  }

  const answered = new Map(runs.flatMap((r) => r.items.map((it): [string, ResultItem] => [it.id, { ...it, promptVersion: r.promptVersion }])));
  const items = request.items.map((it) => answered.get(it.id)!);
  if (shadowRun && routes.shadow) await compareShadow(items, shadowRun, { taxonomy, alias, baseline: routes.baseline, shadow: routes.shadow.version }, deps);

  // The shadow's texts were sent too: its tokens are in the totals, so its texts are in the divisor.
  const usageRuns = shadowRun ? [...runs, shadowRun] : runs;
  const main = runs.find((r) => r.promptVersion === routes.baseline) ?? runs[0]!;
  return resultMessage({
    request,
    taxonomy: main.taxonomy,
    promptVersion: routes.baseline,
    promptHash: main.promptHash,
    model: main.model,
    items,
    usage: usageRuns.map((r) => r.usage).reduce(addUsage, noUsage()),
    cacheHits: usageRuns.reduce((n, r) => n + r.usage.cacheHits, 0),
    sentToModel: usageRuns.reduce((n, r) => n + r.items.filter((it) => !isTextError(it)).length - r.usage.cacheHits, 0),
    receivedAt,
    completedAt: new Date((deps.now ?? Date.now)()),
  });
}

/** Count agreement per dimension on texts both versions labelled, and hand the pairs to the recorder. */
async function compareShadow(
  items: readonly ResultItem[],
  shadowRun: LabelResult,
  scope: { taxonomy: string; alias: string; baseline: string; shadow: string },
  deps: RoutedBatchDeps,
): Promise<void> {
  const shadowLabels = new Map(shadowRun.items.map((it) => [it.id, it.labels]));
  const pairs: Record<string, [LabelValue, LabelValue][]> = {};
  for (const item of items) {
    const other = shadowLabels.get(item.id);
    if (!item.labels || !other) continue;
    for (const [dimension, value] of Object.entries(item.labels)) {
      if (!(dimension in other)) continue;
      (pairs[dimension] ??= []).push([value, other[dimension]!]);
    }
  }
  for (const [dimension, list] of Object.entries(pairs)) {
    const agreed = list.filter(([a, b]) => JSON.stringify(sorted(a)) === JSON.stringify(sorted(b))).length;
    deps.metrics?.shadowLabels.inc({ ...scope, dimension, agreed: "true" }, agreed);
    deps.metrics?.shadowLabels.inc({ ...scope, dimension, agreed: "false" }, list.length - agreed);
  }
  if (Object.keys(pairs).length === 0 || !deps.shadow) return;
  try {
    await deps.shadow.record({ ...scope, pairs });
  } catch (error) {
    deps.logger.warn({ err: error, ...scope }, "could not record the shadow comparison");
  }
}

/** An item whose text was never sent to the model (empty, blank, too long). */
function isTextError(item: ResultItem): boolean {
  return (textErrorCodes as readonly string[]).includes(item.error?.code ?? "");
}

/** Multi-choice lists compare as sets. */
function sorted(v: LabelValue): LabelValue {
  return Array.isArray(v) ? [...v].sort() : v;
}
