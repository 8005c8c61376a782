import type { ResultItem } from "../contracts/result.ts";
import type { ModelCallError } from "../errors/errors.ts";
import type { ModelSpec } from "../models/model-registry.ts";
import { isCutOff } from "../models/parse-model-output.ts";
import type { InferenceParams, ResolvedPrompt } from "../prompts/prompt-registry.ts";
import type { WantedTier } from "../models/service-tiers.ts";
import { callModel, type CallModelDeps, fitsContext, planCall } from "./call-model.ts";
import { callOnChain, type ModelChoice, type ModelChoiceDeps } from "./model-choice.ts";
import { answerBudget, evenChunkSizes, textsPerCallCap } from "./output-budget.ts";
import { RetryBudget } from "./retry-policy.ts";
import { sortAnswer, type ItemProblem } from "./sort-answer.ts";
import { errorItem, missingItem } from "./result-message.ts";
import { settleAll } from "./settle-all.ts";
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
  /** The service tier the batch asks for (see wantedTier); each model of the chain gets it where it offers it, else default. */
  tier?: WantedTier;
  /** The request has a deadline (a shed flex call the policy chose then retries on default). */
  hasDeadline?: boolean;
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

/** What one chunk's call came to. Each chunk returns its own; the round merges them (see mergeChunks). */
interface ChunkOutcome {
  labelled: ResultItem[];
  problems: ItemProblem[];
  /** The answer's tokens and cost, and every attempt sent for the chunk as modelCalls. */
  usage: Usage;
  unexpected: number;
  rejection?: ModelCallError;
  /** Texts in the chunk when its answer was cut off, else 0. */
  truncated: number;
}

/** What the batch has so far, merged from its chunks round after round. */
interface Tally {
  labelled: Map<string, ResultItem>;
  problems: Map<string, ItemProblem>;
  usage: Usage;
  unexpectedItems: number;
  rejection?: ModelCallError;
}

/** One model's turn on the chain: its texts, and the models it may still fall back on. */
interface Tier {
  input: ClassifyInput;
  chain: readonly ModelChoice[];
  tier: number;
  budget: RetryBudget;
}

/**
 * Label every item, salvaging rather than retrying all-or-nothing: each round keeps every
 * text whose labels validate and asks again only for the rest, in smaller chunks after a
 * truncated answer. After the last round a text still without valid labels gets an error.
 * A model call that fails for a retryable reason (after its retries) throws, so the whole
 * batch is retried later from the queue, unless a fallback model can take the chunk (see
 * callOnChain); texts a model rejects or cannot label validly are handed to the next fallback.
 */
export async function classifyItems(input: ClassifyInput, deps: ClassifyDeps, signal?: AbortSignal): Promise<ClassifyOutcome> {
  const chain: ModelChoice[] = [{ model: input.model, inference: input.inference }, ...(input.fallbacks ?? [])];
  const budget = input.retryBudget ?? new RetryBudget(DEFAULTS.retryBudgetS * 1000);
  const tally: Tally = { labelled: new Map(), problems: new Map(), usage: noUsage(), unexpectedItems: 0 };
  let pending: Item[] = [...input.items];
  for (const tier of chain.keys()) {
    if (pending.length === 0) break;
    if (tier > 0) announceFallback(chain, tier, pending.length, deps);
    await runRounds({ input, chain, tier, budget }, pending, tally, deps, signal);
    // What this model could not label, rejected texts included, is the next model's to try.
    pending = input.items.filter((it) => !tally.labelled.has(it.id));
  }
  const items = input.items.map((it) => tally.labelled.get(it.id) ?? problemItem(it.id, tally.problems.get(it.id)));
  return { items, usage: tally.usage, unexpectedItems: tally.unexpectedItems, rejection: tally.rejection };
}

/** Texts still without valid labels move down the chain: say so. */
function announceFallback(chain: readonly ModelChoice[], tier: number, texts: number, deps: ClassifyDeps): void {
  const [from, to] = [chain[tier - 1]!, chain[tier]!];
  deps.logger.info({ model: to.model.alias, texts }, "texts without valid labels go to the fallback model");
  deps.metrics?.fallbacks.inc({ from: from.model.alias, to: to.model.alias, reason: "invalid-output" }, texts);
}

/** The tier's rounds: ask for `pending` in chunks, merge what the chunks return, re-ask for the rest. */
async function runRounds(tier: Tier, pending: Item[], tally: Tally, deps: ClassifyDeps, signal?: AbortSignal): Promise<void> {
  const { input, chain } = tier;
  const choice = chain[tier.tier]!;
  // No more texts per call than the smallest output cap on the rest of the chain can answer.
  let chunkSize = Math.min(input.chunkSize, ...chain.slice(tier.tier).map((c) => textsPerCall(input.prompt, c)));
  for (let round = 0; round <= input.maxReaskRounds && pending.length > 0; round++) {
    signal?.throwIfAborted();
    const chunks = planChunks(pending, chunkSize, input.prompt, choice);
    const outcomes = await settleAll(chunks.map((c) => askChunk(c, tier, deps, signal)));
    mergeChunks(tally, outcomes);
    pending = pending.filter((it) => !tally.labelled.has(it.id) && tally.problems.get(it.id)?.code !== "MODEL_REJECTED_REQUEST");
    // Halve the largest chunk that was cut off, not the configured size: a short batch must shrink too.
    const truncated = Math.max(0, ...outcomes.map((o) => o.truncated));
    if (truncated > 0) chunkSize = Math.max(1, Math.ceil(Math.min(chunkSize, truncated) / 2));
    if (pending.length > 0 && round < input.maxReaskRounds) {
      deps.logger.debug({ round, pending: pending.length, chunkSize }, "re-asking for texts without valid labels");
    }
  }
}

/** Ask the chain from the tier's model on for one chunk; labelled texts are reported at once. */
async function askChunk(items: Item[], tier: Tier, deps: ClassifyDeps, signal?: AbortSignal): Promise<ChunkOutcome> {
  let calls = 0;
  const { tier: wanted, hasDeadline } = tier.input;
  const ctx = { budget: tier.budget, signal, onAttempt: () => void (calls += 1), ...(wanted ? { tier: wanted, hasDeadline } : {}) };
  const texts = items.map((it) => it.text);
  const { prompt } = tier.input;
  const outcome = await callOnChain(tier.chain.slice(tier.tier), (choice) => callModel(texts, prompt, choice, deps, ctx), deps, signal);
  if (outcome.kind === "rejected") {
    const problems = items.map((it): ItemProblem => ({ id: it.id, code: "MODEL_REJECTED_REQUEST", message: outcome.error.message }));
    return { labelled: [], problems, usage: { ...noUsage(), modelCalls: calls }, unexpected: 0, rejection: outcome.error, truncated: 0 };
  }
  const { choice, value } = outcome;
  const spent = answerUsage(choice.model, value.response.usage, value.reservedTokens, value.served);
  recordUsage(deps.metrics, choice.model.alias, spent, value.served?.tier);
  const sorted = sortAnswer(items, value.parsed, prompt.codec, choice.model.modelId);
  // Reported per chunk, so a worker that dies mid-batch keeps what it already paid for.
  if (sorted.labelled.length > 0) await tier.input.onLabelled?.(sorted.labelled);
  return {
    labelled: sorted.labelled,
    problems: [...sorted.invalid, ...sorted.missing],
    usage: { ...spent, modelCalls: calls },
    unexpected: sorted.unexpected,
    // Cut off at the output cap or the context window: either way a smaller chunk fits.
    truncated: isCutOff(value.response.stopReason) ? items.length : 0,
  };
}

/** Add a round's chunk outcomes to the tally, in chunk order, once every chunk has settled. */
function mergeChunks(tally: Tally, outcomes: readonly ChunkOutcome[]): void {
  for (const outcome of outcomes) {
    tally.usage = addUsage(tally.usage, outcome.usage);
    tally.unexpectedItems += outcome.unexpected;
    tally.rejection ??= outcome.rejection;
    for (const problem of outcome.problems) tally.problems.set(problem.id, problem);
    for (const result of outcome.labelled) {
      tally.labelled.set(result.id, result);
      tally.problems.delete(result.id);
    }
  }
}

/** The result item of a text that has no valid labels. */
function problemItem(id: string, problem: ItemProblem | undefined): ResultItem {
  return problem ? errorItem(id, problem.code, problem.message) : missingItem(id);
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
