import type { LabelRequest } from "../contracts/request.ts";
import type { LabelResult, LabelValue, ResultItem } from "../contracts/result.ts";
import { combineRuns, type PartRun, runOf } from "./combine-runs.ts";
import { labelCascade } from "./label-cascade.ts";
import { type BatchPlan, batchRetryBudget, labelBatch, type LabelBatchDeps, type LabelBatchSettings, planBatch, planHash, routedRequest } from "./label-batch.ts";
import { ModelCallError } from "../errors/errors.ts";
import { settleAll } from "./settle-all.ts";
import { type ModelRoute, type ModelRoutes, routedModels, routeTextToModel } from "./model-routes.ts";
import { routeText } from "./prompt-routing.ts";
import type { ShadowRecorder } from "./shadow-recorder.ts";

export interface RoutedBatchDeps extends LabelBatchDeps {
  /** Sums shadow agreement for `labelq eval canary`; absent: Prometheus only. */
  shadow?: ShadowRecorder;
}

/** The labelling settings, with the per-model routes (LABELQ_MODEL_ROUTES) when there are any. */
export interface RoutedBatchSettings extends LabelBatchSettings {
  modelRoutes?: ModelRoutes;
}

/**
 * Label a batch as its prompt alias routes it (see routeText): texts in the alias's canary
 * share are answered by the canary version; texts in its shadow share are answered by the
 * alias's version and labelled by the shadow version too, whose labels are only compared
 * (Prometheus, and the shadow recorder), never returned. Within each version, texts are routed
 * by model as LABELQ_MODEL_ROUTES says (labelModelRouted). Every result item says which version
 * labelled it. A failing shadow run costs the batch nothing but its comparison.
 */
export async function labelRoutedBatch(
  request: LabelRequest,
  receivedAt: Date,
  settings: RoutedBatchSettings,
  deps: RoutedBatchDeps,
  signal?: AbortSignal,
): Promise<LabelResult> {
  const taxonomy = request.taxonomy ?? settings.defaultTaxonomy;
  const alias = request.promptVersion ?? settings.defaultPromptVersion;
  const routes = await deps.prompts.routes(taxonomy, alias);
  // Every run of the batch (versions, routed models, cascade phases) waits on one budget, so a routed batch gives up as soon as a plain one.
  if (settings.modelRoutes || routes.canary || routes.shadow) deps = { ...deps, retryBudget: deps.retryBudget ?? batchRetryBudget(settings) };
  if (!routes.canary && !routes.shadow) {
    const result = (await labelModelRouted(request, receivedAt, settings, deps, signal)).result;
    return { ...result, items: result.items.map((it) => ({ ...it, promptVersion: result.promptVersion })) };
  }

  const scope = `${taxonomy}:${alias}`;
  const routed = request.items.map((it) => ({ item: it, route: routeText(it.text, routes, scope) }));
  const byVersion = new Map<string, LabelRequest["items"]>();
  for (const { item, route } of routed) byVersion.set(route.version, [...(byVersion.get(route.version) ?? []), item]);
  const shadowItems = routed.filter((r) => r.route.shadow !== undefined).map((r) => r.item);

  const runs = await settleAll([...byVersion.entries()].map(([version, items]) => labelModelRouted({ ...request, promptVersion: version, items }, receivedAt, settings, deps, signal)));
  let shadowRun: PartRun | undefined;
  if (routes.shadow && shadowItems.length > 0) {
    try {
      shadowRun = runOf(await labelBatch({ ...request, promptVersion: routes.shadow.version, items: shadowItems }, receivedAt, settings, deps, signal));
    } catch (error) {
      if (signal?.aborted) throw error;
      deps.logger.warn({ err: error, taxonomy, alias, shadow: routes.shadow.version }, "shadow labelling failed: this batch has no shadow comparison");
    }
  }

  const main = runs.find((r) => r.result.promptVersion === routes.baseline) ?? runs[0]!;
  // The shadow's texts were sent too: its tokens are in the totals, so its texts are in the divisor.
  const result = combineRuns(
    request,
    receivedAt,
    { taxonomy: main.result.taxonomy, promptVersion: routes.baseline, promptHash: main.result.promptHash, model: main.result.model },
    { answering: runs, extra: shadowRun ? [shadowRun] : [] },
    new Date((deps.now ?? Date.now)()),
    (item, run) => ({ ...item, promptVersion: run.promptVersion }),
  );
  if (shadowRun && routes.shadow) await compareShadow(result.items, shadowRun.result, { taxonomy, alias, baseline: routes.baseline, shadow: routes.shadow.version }, deps);
  return result;
}

/**
 * Label a batch as the routes of its model (LABELQ_MODEL_ROUTES) say (see routeTextToModel): a
 * canary share is answered by the canary model, a cascade share student first (labelCascade),
 * the rest by the batch's model, and a shadow share of those is labelled by the shadow model too,
 * only to compare (recorded as alias `model:<teacher>`, baseline the teacher, shadow the other
 * model). A model without routes is labelBatch as it was.
 */
export async function labelModelRouted(
  request: LabelRequest,
  receivedAt: Date,
  settings: RoutedBatchSettings,
  deps: RoutedBatchDeps,
  signal?: AbortSignal,
): Promise<PartRun> {
  const teacher = request.model ?? settings.defaultModel;
  const configured = settings.modelRoutes?.get(teacher);
  if (!configured) return runOf(await labelBatch(request, receivedAt, settings, deps, signal));

  // The teacher's plan: its tier check (a tier it does not offer is the producer's mistake,
  // whichever model a text meets), and the prompt and hash the batch's result names.
  const teacherPlan = await planBatch(request, settings, deps.prompts, (deps.now ?? Date.now)());
  const route = applicableRoute(configured, teacherPlan);
  const taxonomy = teacherPlan.taxonomyName;
  const scope = `${taxonomy}:${teacher}`;
  const teacherItems: LabelRequest["items"] = [];
  const cascadeItems: LabelRequest["items"] = [];
  const shadowItems: LabelRequest["items"] = [];
  const canaryItems = new Map<string, LabelRequest["items"]>();
  for (const item of request.items) {
    const r = routeTextToModel(item.text, route, scope);
    if (r.role === "canary") canaryItems.set(r.model, [...(canaryItems.get(r.model) ?? []), item]);
    else if (r.role === "cascade") cascadeItems.push(item);
    else {
      teacherItems.push(item);
      if (r.shadow) shadowItems.push(item);
    }
  }
  // A routed model is the operator's choice, not the request's: the allow-list does not apply to it.
  const routedSettings = { ...settings, allowedModels: [...settings.allowedModels, ...routedModels(new Map([[teacher, route]]))] };
  const part = (items: LabelRequest["items"], model: string) =>
    labelBatch({ ...(model === teacher ? request : routedRequest(request, model, settings)), items }, receivedAt, routedSettings, deps, signal).then(runOf);
  // A routed model that fails (its deployment gone, access refused, down after retries) costs its texts nothing: the teacher labels them.
  const orTeacher = async <T extends PartRun>(work: () => Promise<T>, items: LabelRequest["items"], model: string): Promise<PartRun> => {
    try {
      return await work();
    } catch (error) {
      if (signal?.aborted || !(error instanceof ModelCallError)) throw error;
      deps.logger.warn({ err: error, model: teacher, routed: model, texts: items.length }, "routed model failed: its texts go to the teacher");
      deps.metrics?.fallbacks.inc({ from: model, to: teacher, reason: "routed-model-failed" }, items.length);
      return part(items, teacher);
    }
  };
  const cascade = route.cascade;
  const runs = await settleAll([
    ...(teacherItems.length > 0 ? [part(teacherItems, teacher)] : []),
    ...[...canaryItems.entries()].map(([model, items]) => orTeacher(() => part(items, model), items, model)),
    ...(cascade && cascadeItems.length > 0
      ? [orTeacher(() => labelCascade({ ...request, items: cascadeItems }, receivedAt, cascade, routedSettings, deps, signal), cascadeItems, cascade.student)]
      : []),
  ]);
  let shadowRun: PartRun | undefined;
  if (route.shadow && shadowItems.length > 0) {
    try {
      shadowRun = await part(shadowItems, route.shadow.model);
    } catch (error) {
      if (signal?.aborted) throw error;
      deps.logger.warn({ err: error, taxonomy, model: teacher, shadow: route.shadow.model }, "shadow model labelling failed: this batch has no model comparison");
    }
  }

  const result = combineRuns(
    request,
    receivedAt,
    { taxonomy, promptVersion: teacherPlan.prompt.version, promptHash: planHash(teacherPlan), model: teacher },
    { answering: runs, extra: shadowRun ? [shadowRun] : [] },
    new Date((deps.now ?? Date.now)()),
  );
  if (shadowRun && route.shadow) {
    await compareShadow(result.items, shadowRun.result, { taxonomy, alias: `model:${teacher}`, baseline: teacher, shadow: route.shadow.model }, deps);
  }
  return { result, sent: [...runs, ...(shadowRun ? [shadowRun] : [])].reduce((n, r) => n + r.sent, 0) };
}

/**
 * The route as it applies to a batch: a cascade gated on one taxonomy and prompt version (its
 * gate report's) does not apply to another, whose dimensions the gate never scored; those texts
 * go to the teacher.
 */
function applicableRoute(route: ModelRoute, plan: BatchPlan): ModelRoute {
  const gated = route.cascade?.gatedOn;
  if (!gated || (gated.taxonomy === plan.taxonomyName && gated.promptVersion === plan.prompt.version)) return route;
  const { cascade: _ungated, ...rest } = route;
  return rest;
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

/** Multi-choice lists compare as sets. */
function sorted(v: LabelValue): LabelValue {
  return Array.isArray(v) ? [...v].sort() : v;
}
