import type { LabelRequest } from "../contracts/request.ts";
import type { LabelResult, LabelValue, ResultItem } from "../contracts/result.ts";
import { subsetPrompt } from "../prompts/prompt-registry.ts";
import { classifyItems } from "./classify-items.ts";
import { combineRuns, isTextError, type PartRun, runOf } from "./combine-runs.ts";
import { type BatchPlan, classifyInputOf, labelBatch, type LabelBatchDeps, type LabelBatchSettings, planBatch, planHash, routedRequest } from "./label-batch.ts";
import type { CascadeRoute } from "./model-routes.ts";
import { errorItem, resultMessage } from "./result-message.ts";
import { settleAll } from "./settle-all.ts";

/** Why a cascaded text's dimension went to the teacher. */
export interface CascadeCounts {
  texts: number;
  /** Texts the teacher was asked about at all. */
  textsToTeacher: number;
  /** Dimensions asked of the teacher, summed over texts, by reason. */
  held: number;
  disagreed: number;
  /** Every dimension of a text the student gave no valid labels for. */
  studentFailed: number;
}

/** A cascade's result, the texts it sent (student samples and teacher asks), and where its dimensions went. */
export interface CascadeRun extends PartRun {
  counts: CascadeCounts;
}

type Item = LabelRequest["items"][number];

/**
 * Label `request`'s texts student first: the student labels every text (from its label cache
 * when it can), and, with two samples, labels it again at a higher temperature without the
 * cache. The teacher is then asked, per text, only for the dimensions the student may not
 * answer (not in `studentDimensions`), the dimensions its two samples disagree on, and every
 * dimension of a text the student could not label. Texts asked for the same dimensions share
 * calls with a prompt of those dimensions only (the teacher's full prompt, and its label cache,
 * when it is all of them). A text the teacher cannot label gets the teacher's error: the
 * student's word is not taken for a dimension the gate did not promote.
 */
export async function labelCascade(
  request: LabelRequest,
  receivedAt: Date,
  route: CascadeRoute,
  settings: LabelBatchSettings,
  deps: LabelBatchDeps,
  signal?: AbortSignal,
): Promise<CascadeRun> {
  const teacher = request.model ?? settings.defaultModel;
  // The teacher's plan: the prompt and hash the result names, and what its subset asks share.
  const teacherPlan = await planBatch(request, settings, deps.prompts, (deps.now ?? Date.now)());
  const dims = teacherPlan.prompt.taxonomy.dimensions.map((d) => d.key);
  const studentSettings = { ...settings, allowedModels: [...settings.allowedModels, route.student] };
  const studentRequest = routedRequest(request, route.student, settings);

  const [firstSample, second] = await settleAll([
    labelBatch(studentRequest, receivedAt, studentSettings, deps, signal),
    route.samples === 2 ? secondSample(studentRequest, receivedAt, route, studentSettings, deps, signal) : Promise.resolve(undefined),
  ]);
  const first = firstSample!; // labelBatch resolves to a result; only the second sample may be absent.
  const againById = new Map((second?.items ?? []).map((it) => [it.id, it.labels]));

  const counts: CascadeCounts = { texts: request.items.length, textsToTeacher: 0, held: 0, disagreed: 0, studentFailed: 0 };
  const groups = new Map<string, { dims: Set<string>; items: Item[] }>();
  const firstById = new Map(first.items.map((it) => [it.id, it]));
  for (const item of request.items) {
    const answer = firstById.get(item.id)!;
    if (isTextError(answer)) continue;
    const ask = teacherDimensions(answer, againById.get(item.id), dims, route.studentDimensions, counts);
    if (ask.length === 0) continue;
    counts.textsToTeacher += 1;
    const key = ask.join(",");
    const group = groups.get(key) ?? { dims: new Set(ask), items: [] };
    group.items.push(item);
    groups.set(key, group);
  }

  countCascade(counts, { student: route.student, teacher }, deps);
  const teacherRuns = await settleAll(
    [...groups.values()].map((g) =>
      g.dims.size === dims.length
        ? labelBatch({ ...request, items: g.items }, receivedAt, settings, deps, signal).then(runOf)
        : askTeacherFor(g.items, g.dims, { request, receivedAt, plan: teacherPlan, settings, deps, signal }),
    ),
  );
  const fromTeacher = new Map(teacherRuns.flatMap((r) => r.result.items.map((it): [string, ResultItem] => [it.id, it])));
  const items = first.items.map((it) => merged(it, fromTeacher.get(it.id), dims));
  const answering: PartRun = { result: { ...first, items }, sent: runOf(first).sent };
  const extra = [...(second ? [runOf(second)] : []), ...teacherRuns];
  const header = { taxonomy: teacherPlan.taxonomyName, promptVersion: teacherPlan.prompt.version, promptHash: planHash(teacherPlan), model: teacher };
  const result = combineRuns(request, receivedAt, header, { answering: [answering], extra }, new Date((deps.now ?? Date.now)()));
  return { result, sent: [answering, ...extra].reduce((n, r) => n + r.sent, 0), counts };
}

/** Where the cascade's texts and dimensions went, in the process's metrics. */
function countCascade(counts: CascadeCounts, models: { student: string; teacher: string }, deps: LabelBatchDeps): void {
  const m = deps.metrics;
  if (!m) return;
  m.cascadeTexts.inc({ ...models, teacher_asked: "true" }, counts.textsToTeacher);
  m.cascadeTexts.inc({ ...models, teacher_asked: "false" }, counts.texts - counts.textsToTeacher);
  m.cascadeTeacherDimensions.inc({ ...models, reason: "held" }, counts.held);
  m.cascadeTeacherDimensions.inc({ ...models, reason: "disagreed" }, counts.disagreed);
  m.cascadeTeacherDimensions.inc({ ...models, reason: "student-failed" }, counts.studentFailed);
}

/** The student again at the cascade's sample temperature, without the cache (a cached answer is the first sample). Failing costs only the comparison. */
async function secondSample(
  request: LabelRequest,
  receivedAt: Date,
  route: CascadeRoute,
  settings: LabelBatchSettings,
  deps: LabelBatchDeps,
  signal?: AbortSignal,
): Promise<LabelResult | undefined> {
  try {
    return await labelBatch({ ...request, cache: "bypass", inference: { temperature: route.sampleTemperature } }, receivedAt, settings, deps, signal);
  } catch (error) {
    if (signal?.aborted) throw error;
    deps.logger.warn({ err: error, student: route.student }, "the cascade's second student sample failed: only the gate decides what the teacher is asked");
    return undefined;
  }
}

/** The dimensions of one text the teacher is asked for, in taxonomy order, counted by reason. */
function teacherDimensions(
  answer: ResultItem,
  again: Record<string, LabelValue> | null | undefined,
  dims: readonly string[],
  studentDims: ReadonlySet<string>,
  counts: CascadeCounts,
): string[] {
  if (!answer.labels) {
    counts.studentFailed += dims.length;
    return [...dims];
  }
  const labels = answer.labels;
  return dims.filter((d) => {
    if (!studentDims.has(d)) return ++counts.held > 0;
    if (again && d in again && !sameValue(labels[d] ?? null, again[d] ?? null)) return ++counts.disagreed > 0;
    return false;
  });
}

/** What asking the teacher for some dimensions needs besides the texts. */
interface TeacherAsk {
  request: LabelRequest;
  receivedAt: Date;
  plan: BatchPlan;
  settings: LabelBatchSettings;
  deps: LabelBatchDeps;
  signal: AbortSignal | undefined;
}

/** Ask the teacher for `dims` of `items` only, with a prompt of those dimensions (not cached: the cache holds whole texts' labels). */
async function askTeacherFor(items: Item[], dims: ReadonlySet<string>, ask: TeacherAsk): Promise<PartRun> {
  const { request, plan, settings, deps } = ask;
  const outcome = await classifyItems({ ...classifyInputOf(plan, settings, deps.retryBudget), items, prompt: subsetPrompt(plan.prompt, dims) }, deps, ask.signal);
  const result = resultMessage({
    request,
    taxonomy: plan.taxonomyName,
    promptVersion: plan.prompt.version,
    promptHash: planHash(plan),
    model: plan.modelAlias,
    items: outcome.items,
    usage: outcome.usage,
    cacheHits: 0,
    sentToModel: items.length,
    receivedAt: ask.receivedAt,
    completedAt: new Date((deps.now ?? Date.now)()),
  });
  return { result, sent: items.length };
}

/** A cascaded text's item: the student's labels with the teacher's in place for the dimensions it was asked. */
function merged(student: ResultItem, teacher: ResultItem | undefined, dims: readonly string[]): ResultItem {
  if (!teacher || !student.labels) return teacher ?? student;
  // Asked for every dimension (the student failed, or none is promoted): the teacher's item as it is.
  if (teacher.labels && dims.every((d) => d in teacher.labels!)) return teacher;
  if (!teacher.labels) return errorItem(student.id, teacher.error?.code ?? "MODEL_ERROR", `the teacher could not label what the student may not answer: ${teacher.error?.message ?? "no labels"}`);
  const labels = Object.fromEntries(dims.map((d) => [d, d in teacher.labels! ? teacher.labels![d]! : (student.labels?.[d] ?? null)]));
  const models = [...new Set([student.model, teacher.model].filter((m): m is string => m !== null))];
  return { ...student, labels, source: "model", model: models.join("+") };
}

/** Multi-choice lists compare as sets. */
export function sameValue(a: LabelValue, b: LabelValue): boolean {
  const norm = (v: LabelValue) => JSON.stringify(Array.isArray(v) ? [...v].sort() : v);
  return norm(a) === norm(b);
}
