import type { Logger } from "pino";
import type { ItemErrorCode, ResultItem } from "../contracts/result.ts";
import { ModelCallError } from "../errors/errors.ts";
import type { ModelProvider } from "../llm/model-provider.ts";
import { costUsd, type ModelSpec } from "../llm/model-registry.ts";
import { parseModelOutput } from "../llm/parse-model-output.ts";
import type { RateLimiter } from "../limiter/rate-limiter.ts";
import type { InferenceParams, ResolvedPrompt } from "../prompts/prompt-registry.ts";
import { renderUserMessage } from "../prompts/render-prompt.ts";
import { outputJsonSchema } from "../taxonomy/output-json-schema.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { CircuitBreakers } from "./circuit-breaker.ts";
import { DEFAULT_RETRY_POLICY, nextRetryDelayMs, RetryBudget, type RetryPolicy } from "./retry-policy.ts";

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

/** A model with the inference parameters to call it with. */
export interface ModelChoice {
  model: ModelSpec;
  inference: InferenceParams;
}

export interface ClassifyDeps {
  provider: ModelProvider;
  limiter: RateLimiter;
  logger: Logger;
  metrics?: Metrics;
  /** Per-model circuit breakers, shared by the process's batches. */
  breakers?: CircuitBreakers;
  retry?: RetryPolicy;
}

export interface Usage {
  /** Calls sent to the model, retries and re-asks included. */
  modelCalls: number;
  /** Input tokens billed at the input price (prompt-cache reads and writes are counted apart). */
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheWriteInputTokens: number;
  costUsd: number;
}

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
type Problem = { code: ItemErrorCode; message: string };

/**
 * Label every item, salvaging rather than retrying all-or-nothing: each round keeps every
 * text whose labels validate and asks again only for the rest, in smaller chunks after a
 * truncated answer. After the last round a text still without valid labels gets an error.
 * A model call that fails for a retryable reason (after the SDK's own attempts) throws, so
 * the whole batch is retried later from the queue, unless a fallback model can take the chunk;
 * texts a model rejects or cannot label validly are handed to the next fallback.
 */
export async function classifyItems(input: ClassifyInput, deps: ClassifyDeps, signal?: AbortSignal): Promise<ClassifyOutcome> {
  const usage: Usage = { modelCalls: 0, inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheWriteInputTokens: 0, costUsd: 0 };
  const labelled = new Map<string, ResultItem>();
  const problems = new Map<string, Problem>();
  let unexpectedItems = 0;
  let rejection: ModelCallError | undefined;
  const tiers: ModelChoice[] = [{ model: input.model, inference: input.inference }, ...(input.fallbacks ?? [])];
  const budget = input.retryBudget ?? new RetryBudget(60_000);

  /** Call the model for one chunk and record what it answered; labelled texts are reported at once. */
  const runChunk = async (items: Item[], tier: number): Promise<{ truncated: number }> => {
    let answer: Awaited<ReturnType<typeof callModel>> | undefined;
    let choice = tiers[tier]!;
    for (let k = tier; !answer; k++) {
      choice = tiers[k]!;
      if (deps.breakers && !deps.breakers.allow(choice.model.alias)) {
        // Open breaker: skip the model without a call; with no fallback, hold the batch back.
        if (k + 1 < tiers.length) {
          deps.metrics?.fallbacks.inc({ from: choice.model.alias, to: tiers[k + 1]!.model.alias, reason: "circuit-open" });
          continue;
        }
        throw new ModelCallError("MODEL_UNAVAILABLE", choice.model.modelId, `circuit open for ${choice.model.alias}: recent calls found it unavailable`);
      }
      try {
        answer = await callModel(items, input.prompt, choice, deps, budget, usage, signal);
        deps.breakers?.success(choice.model.alias);
      } catch (error) {
        // Stopping is not the model's fault: no breaker, no fallback, no retry.
        if (signal?.aborted) throw error;
        const down = error instanceof ModelCallError && (error.code === "MODEL_UNAVAILABLE" || error.code === "MODEL_TIMEOUT");
        if (down && deps.breakers?.failure(choice.model.alias)) {
          deps.logger.warn({ model: choice.model.alias }, "circuit breaker opened: the model is skipped until a trial call succeeds");
        }
        if (down && k + 1 < tiers.length) {
          deps.metrics?.fallbacks.inc({ from: choice.model.alias, to: tiers[k + 1]!.model.alias, reason: "unavailable" });
          deps.logger.warn({ model: choice.model.alias, fallback: tiers[k + 1]!.model.alias, code: error.code }, "model unavailable: chunk goes to the fallback model");
          continue;
        }
        if (error instanceof ModelCallError && !error.retryable) {
          rejection ??= error;
          for (const it of items) problems.set(it.id, { code: "MODEL_REJECTED_REQUEST", message: error.message });
          return { truncated: 0 };
        }
        throw error;
      }
    }
    const { response, parsed } = answer;
    usage.inputTokens += response.usage.inputTokens;
    usage.outputTokens += response.usage.outputTokens;
    const cacheRead = response.usage.cacheReadInputTokens ?? 0;
    const cacheWrite = response.usage.cacheWriteInputTokens ?? 0;
    usage.cacheReadInputTokens += cacheRead;
    usage.cacheWriteInputTokens += cacheWrite;
    const cost = costUsd(choice.model, response.usage.inputTokens, response.usage.outputTokens, { readTokens: cacheRead, writeTokens: cacheWrite });
    usage.costUsd += cost;
    deps.metrics?.tokens.inc({ model: choice.model.alias, direction: "input" }, response.usage.inputTokens);
    deps.metrics?.tokens.inc({ model: choice.model.alias, direction: "output" }, response.usage.outputTokens);
    deps.metrics?.costUsd.inc({ model: choice.model.alias }, cost);

    const seen = new Set<number>();
    const answeredTwice = new Set<number>();
    const fresh: ResultItem[] = [];
    for (const raw of parsed.items) {
      const { number, rest } = splitNumber(raw);
      const item = number !== undefined ? items[number - 1] : undefined;
      if (number === undefined || !item) {
        unexpectedItems += 1;
        continue;
      }
      if (seen.has(number)) {
        // Two answers for one text: one may be forged by another text (prompt injection). Trust neither.
        answeredTwice.add(number);
        continue;
      }
      seen.add(number);
      const decoded = input.prompt.codec.decode(rest);
      if (decoded.ok) {
        const result: ResultItem = { id: item.id, labels: decoded.labels, source: "model", model: choice.model.modelId, error: null };
        labelled.set(item.id, result);
        problems.delete(item.id);
        fresh.push(result);
      } else {
        problems.set(item.id, { code: "INVALID_OUTPUT", message: `invalid labels: ${decoded.issues.join("; ")}` });
      }
    }
    for (const number of answeredTwice) {
      const item = items[number - 1]!;
      labelled.delete(item.id);
      problems.set(item.id, { code: "INVALID_OUTPUT", message: "the model answered twice for this text" });
    }
    fresh.splice(0, fresh.length, ...fresh.filter((r) => labelled.has(r.id)));
    for (const [index, item] of items.entries()) {
      if (!seen.has(index + 1) && !labelled.has(item.id)) {
        problems.set(item.id, {
          code: "MISSING_FROM_OUTPUT",
          message: `no labels for this text in the model's answer${parsed.problem ? ` (${parsed.problem})` : ""}`,
        });
      }
    }
    // Reported per chunk, so a worker that dies mid-batch keeps what it already paid for.
    if (fresh.length > 0) await input.onLabelled?.(fresh);
    return { truncated: response.stopReason === "max_tokens" ? items.length : 0 };
  };

  let pending: Item[] = [...input.items];
  for (let tier = 0; tier < tiers.length && pending.length > 0; tier++) {
    if (tier > 0) {
      deps.logger.info({ model: tiers[tier]!.model.alias, texts: pending.length }, "texts without valid labels go to the fallback model");
      deps.metrics?.fallbacks.inc({ from: tiers[tier - 1]!.model.alias, to: tiers[tier]!.model.alias, reason: "invalid-output" }, pending.length);
    }
    let chunkSize = input.chunkSize;
    for (let round = 0; round <= input.maxReaskRounds && pending.length > 0; round++) {
      signal?.throwIfAborted();
      const settled = await Promise.allSettled(chunk(pending, chunkSize).map((c) => runChunk(c, tier)));
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

  const items = input.items.map<ResultItem>(
    (it) =>
      labelled.get(it.id) ?? {
        id: it.id,
        labels: null,
        source: null,
        model: null,
        error: problems.get(it.id) ?? { code: "MISSING_FROM_OUTPUT", message: "no labels for this text" },
      },
  );
  return { items, usage, unexpectedItems, rejection };
}

async function callModel(
  items: Item[],
  prompt: ResolvedPrompt,
  { model, inference }: ModelChoice,
  deps: ClassifyDeps,
  budget: RetryBudget,
  usage: Usage,
  signal?: AbortSignal,
) {
  const user = renderUserMessage(items.map((it) => it.text));
  // ~4 characters per token: close enough to weigh calls against a tokens-per-minute budget.
  const inputTokens = Math.ceil((prompt.system.length + user.length) / 4);
  if (inputTokens + inference.maxTokens > model.contextTokens) {
    // Bedrock would refuse it (ValidationException) after a round trip and a quota slot: say so now.
    throw new ModelCallError(
      "MODEL_REJECTED_REQUEST",
      model.modelId,
      `the prompt (~${inputTokens} tokens) plus ${inference.maxTokens} output tokens exceeds ${model.alias}'s context of ${model.contextTokens} tokens; choose a model with a larger context or a smaller taxonomy`,
    );
  }
  const call = { model: model.alias, tokens: inputTokens + items.length * 40 };
  const policy = deps.retry ?? DEFAULT_RETRY_POLICY;
  for (let attempt = 1; ; attempt++) {
    const started = performance.now();
    // Every attempt counts, retried and failed ones too: usage says what was asked of the service.
    usage.modelCalls += 1;
    try {
      const request = {
        modelId: model.modelId,
        system: prompt.system,
        user,
        inference,
        // Forced tool use where the model supports it; JSON in text (and repair) elsewhere.
        ...(model.capabilities.structuredOutput === "tool" ? { structuredOutput: { schema: outputSchemaOf(prompt) } } : {}),
        cacheSystemPrompt: model.capabilities.promptCache,
      };
      signal?.throwIfAborted();
      // A call still waiting in the limiter when the worker stops must not hold the shutdown:
      // give up waiting at once; the queued job then finds the signal aborted and does nothing.
      const response = await abortable(
        deps.limiter.schedule(call, () => (signal?.aborted ? Promise.reject(signal.reason as Error) : deps.provider.converse(request, signal))),
        signal,
      );
      deps.limiter.report(call, { throttled: false, actualTokens: response.usage.inputTokens + response.usage.outputTokens });
      observeCall(deps.metrics, model.alias, "ok", started);
      return { response, parsed: parseModelOutput(response.text, response.stopReason) };
    } catch (error) {
      if (signal?.aborted) throw error;
      observeCall(deps.metrics, model.alias, callOutcome(error), started);
      if (error instanceof ModelCallError && error.code === "MODEL_THROTTLED") {
        deps.limiter.report(call, { throttled: true, retryAfterSeconds: error.retryAfterSeconds });
      }
      const delay = nextRetryDelayMs(error, attempt, policy);
      if (delay === undefined || signal?.aborted || !budget.take(delay)) throw error;
      deps.metrics?.retries.inc({ model: model.alias, code: (error as ModelCallError).code });
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** Take the text number "i" off an output object; accepts 7 or "7". */
function splitNumber(raw: unknown): { number: number | undefined; rest: unknown } {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { number: undefined, rest: raw };
  const { i, ...rest } = raw as Record<string, unknown>;
  const number = typeof i === "number" ? i : typeof i === "string" && /^\d+$/.test(i) ? Number(i) : undefined;
  return { number: number !== undefined && Number.isInteger(number) ? number : undefined, rest };
}

function chunk<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let k = 0; k < xs.length; k += size) out.push(xs.slice(k, k + size));
  return out;
}

function observeCall(metrics: Metrics | undefined, model: string, outcome: string, started: number): void {
  metrics?.modelCalls.inc({ model, outcome });
  metrics?.modelCallDuration.observe({ model, outcome }, (performance.now() - started) / 1000);
}

const CALL_OUTCOMES: Partial<Record<string, string>> = {
  MODEL_THROTTLED: "throttled",
  MODEL_UNAVAILABLE: "unavailable",
  MODEL_REJECTED_REQUEST: "rejected",
  MODEL_TIMEOUT: "timeout",
};

function callOutcome(error: unknown): string {
  return (error instanceof ModelCallError && CALL_OUTCOMES[error.code]) || "error";
}

// One schema per rendered prompt (subset prompts included), built on first use.
const outputSchemas = new WeakMap<ResolvedPrompt, Record<string, unknown>>();
function outputSchemaOf(prompt: ResolvedPrompt): Record<string, unknown> {
  let schema = outputSchemas.get(prompt);
  if (!schema) {
    schema = outputJsonSchema(prompt.taxonomy);
    outputSchemas.set(prompt, schema);
  }
  return schema;
}

/** Settle with `promise`, or reject as soon as `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
