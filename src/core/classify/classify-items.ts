import type { ResultItem } from "../contracts/result.ts";
import type { ModelCallError } from "../errors/errors.ts";
import type { ModelSpec } from "../models/model-registry.ts";
import { isCutOff } from "../models/parse-model-output.ts";
import type { InferenceParams, ResolvedPrompt } from "../prompts/prompt-registry.ts";
import { callModel, type CallModelDeps, fitsContext, planCall } from "./call-model.ts";
import { callOnChain, type ModelChoice, type ModelChoiceDeps } from "./model-choice.ts";
import { answerBudget, evenChunkSizes, textsPerCallCap } from "./output-budget.ts";
import { RetryBudget } from "./retry-policy.ts";
import { sortAnswer, type ItemProblem } from "./sort-answer.ts";
import { addUsage, answerUsage, noUsage, recordUsage, type Usage } from "./usage.ts";
import { DEFAULTS } from "../config/config.ts";

export interface ClassifyInput {
  items: readonly { id: string; text: string }[];
  prompt: ResolvedPrompt;
  model: ModelSpec;
  inference: InferenceParams;
  /** Texts per model call in the first round. */
  chunkSize: number;
  /** Rounds that re-ask only for texts still missing or invalid. */
  maxReaskRounds: number;
  /** Called with the texts each model call labelled, as soon as they validate (for the cache). */
  onLabelled?: (items: ResultItem[]) => Promise<void>;
  /**
   * Models to fall back on, in order: a chunk whose model is unavailable goes to the next one
   * at once; texts still without valid labels after a model's rounds get the next one's rounds.
   */
  fallbacks?: readonly ModelChoice[];
  /** Waiting time between retried calls this batch may still spend. */
  retryBudget?: RetryBudget;
}

export interface ClassifyDeps extends CallModelDeps, Omit<ModelChoiceDeps, "limiter"> {}

export interface ClassifyOutcome {
  /** One entry per input item, in input order: labels or a per-item error. */
  items: ResultItem[];
  usage: Usage;
  /** Output objects whose number was not asked for (dropped). */
  unexpectedItems: number;
  /** The first non-retryable model error, when a chunk was rejected. */
  rejection?: ModelCallError;
}

type Item = { id: string; text: string };

/**
 * Label every item, salvaging rather than retrying all-or-nothing: each round keeps every
 * text whose labels validate and asks again only for the rest, in smaller chunks after a
 * truncated answer. After the last round a text still without valid labels gets an error.
 * A model call that fails for a retryable reason (after its retries) throws, so the whole
 * batch is retried later from the queue, unless a fallback model can take the chunk (see
 * callOnChain); texts a model rejects or cannot label validly are handed to the next fallback.
 */
export async function classifyItems(input: ClassifyInput, deps: ClassifyDeps, signal?: AbortSignal): Promise<ClassifyOutcome> {
  let answered = noUsage();
  let attempts = 0;
  const labelled = new Map<string, ResultItem>();
  const problems = new Map<string, ItemProblem>();
  let unexpectedItems = 0;
  let rejection: ModelCallError | undefined;
  const chain: ModelChoice[] = [{ model: input.model, inference: input.inference }, ...(input.fallbacks ?? [])];
  const ctx = { budget: input.retryBudget ?? new RetryBudget(DEFAULTS.retryBudgetS * 1000), signal, onAttempt: () => void (attempts += 1) };

  /** Ask the chain from `tier` on for one chunk and record what it answered; labelled texts are reported at once. */
  const runChunk = async (items: Item[], tier: number): Promise<{ truncated: number }> => {
    const texts = items.map((it) => it.text);
    const outcome = await callOnChain(chain.slice(tier), (choice) => callModel(texts, input.prompt, choice, deps, ctx), deps, signal);
    if (outcome.kind === "rejected") {
      rejection ??= outcome.error;
      for (const it of items) problems.set(it.id, { id: it.id, code: "MODEL_REJECTED_REQUEST", message: outcome.error.message });
      return { truncated: 0 };
    }
    const { choice, value } = outcome;
    const spent = answerUsage(choice.model, value.response.usage, value.reservedTokens);
    answered = addUsage(answered, spent);
    recordUsage(deps.metrics, choice.model.alias, spent);

    const sorted = sortAnswer(items, value.parsed, input.prompt.codec, choice.model.modelId);
    unexpectedItems += sorted.unexpected;
    for (const problem of [...sorted.invalid, ...sorted.missing]) problems.set(problem.id, problem);
    for (const result of sorted.labelled) {
      labelled.set(result.id, result);
      problems.delete(result.id);
    }
    // Reported per chunk, so a worker that dies mid-batch keeps what it already paid for.
    if (sorted.labelled.length > 0) await input.onLabelled?.(sorted.labelled);
    // Cut off at the output cap or the context window: either way a smaller chunk fits.
    return { truncated: isCutOff(value.response.stopReason) ? items.length : 0 };
  };

  let pending: Item[] = [...input.items];
  for (const [tier, choice] of chain.entries()) {
    if (pending.length === 0) break;
    const previous = chain[tier - 1];
    if (previous) {
      deps.logger.info({ model: choice.model.alias, texts: pending.length }, "texts without valid labels go to the fallback model");
      deps.metrics?.fallbacks.inc({ from: previous.model.alias, to: choice.model.alias, reason: "invalid-output" }, pending.length);
    }
    // No more texts per call than the smallest output cap on the rest of the chain can answer.
    let chunkSize = Math.min(input.chunkSize, ...chain.slice(tier).map((c) => textsPerCall(input.prompt, c)));
    for (let round = 0; round <= input.maxReaskRounds && pending.length > 0; round++) {
      signal?.throwIfAborted();
      const chunks = planChunks(pending, chunkSize, input.prompt, choice);
      const settled = await Promise.allSettled(chunks.map((c) => runChunk(c, tier)));
      const failure = settled.find((o) => o.status === "rejected");
      if (failure) throw failure.reason;
      // Halve the largest chunk that was cut off, not the configured size: a short batch must shrink too.
      const truncated = Math.max(0, ...settled.map((o) => (o.status === "fulfilled" ? o.value.truncated : 0)));
      pending = pending.filter((it) => !labelled.has(it.id) && problems.get(it.id)?.code !== "MODEL_REJECTED_REQUEST");
      if (truncated > 0) chunkSize = Math.max(1, Math.ceil(Math.min(chunkSize, truncated) / 2));
      if (pending.length > 0 && round < input.maxReaskRounds) {
        deps.logger.debug({ round, pending: pending.length, chunkSize }, "re-asking for texts without valid labels");
      }
    }
    // What this model could not label, rejected texts included, is the next model's to try.
    pending = input.items.filter((it) => !labelled.has(it.id));
  }

  const items = input.items.map<ResultItem>((it) => {
    const done = labelled.get(it.id);
    if (done) return done;
    const problem = problems.get(it.id);
    const error = problem ? { code: problem.code, message: problem.message } : { code: "MISSING_FROM_OUTPUT" as const, message: "no labels for this text" };
    return { id: it.id, labels: null, source: null, model: null, error };
  });
  return { items, usage: { ...answered, modelCalls: attempts }, unexpectedItems, rejection };
}

/** Halve `xs` until each part fits (a single item is left as it is, for the call to refuse with the reason). */
export function splitToFit<T>(xs: T[], fits: (part: readonly T[]) => boolean): T[][] {
  if (xs.length <= 1 || fits(xs)) return [xs];
  const half = Math.ceil(xs.length / 2);
  return [...splitToFit(xs.slice(0, half), fits), ...splitToFit(xs.slice(half), fits)];
}

/**
 * The most texts one call to `choice` can take: as many answers as its output cap holds in its
 * answer format. More texts per call means fewer reserved tokens per text (the system prompt and
 * the output reservation are shared by the chunk), so the chunk is as large as the cap allows;
 * LABELQ_CHUNK_SIZE lowers it where shorter calls matter more (generation time grows with output).
 */
export function textsPerCall(prompt: ResolvedPrompt, choice: ModelChoice): number {
  const { model, inference } = choice;
  return textsPerCallCap(answerBudget(prompt.taxonomy, model.tokenizer, model.outputFormat), Math.min(inference.maxTokens, model.maxOutputTokens), model.outputFormat);
}

/**
 * The calls that ask `choice` for `items`: chunks of at most `chunkSize`, as even as possible,
 * each halved until its prompt, texts and answer fit the model's context. The worker, the bulk
 * path and `labelq estimate` all cut texts into calls here.
 */
export function planChunks<T extends { text: string }>(items: readonly T[], chunkSize: number, prompt: ResolvedPrompt, choice: ModelChoice): T[][] {
  const fits = (part: readonly T[]) => fitsContext(planCall(part.map((it) => it.text), prompt, choice), choice.model);
  return chunk(items, chunkSize).flatMap((c) => splitToFit(c, fits));
}

/** `xs` in chunks of at most `size`, as even as possible (see evenChunkSizes). */
function chunk<T>(xs: readonly T[], size: number): T[][] {
  return sliceBySizes(xs, evenChunkSizes(xs.length, size));
}

/** `xs` cut into consecutive parts of the given sizes (a batch's texts by the sizes of its calls). */
export function sliceBySizes<T>(xs: readonly T[], sizes: readonly number[]): T[][] {
  const out: T[][] = [];
  let start = 0;
  for (const n of sizes) {
    out.push(xs.slice(start, start + n));
    start += n;
  }
  return out;
}
