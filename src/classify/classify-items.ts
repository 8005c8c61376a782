import type { Logger } from "pino";
import type { ItemErrorCode, ResultItem } from "../contracts/result.ts";
import { ModelCallError } from "../errors/errors.ts";
import type { ModelProvider } from "../llm/model-provider.ts";
import { costUsd, type ModelSpec } from "../llm/model-registry.ts";
import { parseModelOutput } from "../llm/parse-model-output.ts";
import type { RateLimiter } from "../limiter/rate-limiter.ts";
import type { InferenceParams, ResolvedPrompt } from "../prompts/prompt-registry.ts";
import { renderUserMessage } from "../prompts/render-prompt.ts";

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
}

export interface ClassifyDeps {
  provider: ModelProvider;
  limiter: RateLimiter;
  logger: Logger;
}

export interface Usage {
  modelCalls: number;
  inputTokens: number;
  outputTokens: number;
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
 * the whole batch is retried later from the queue; a request the model rejects is final.
 */
export async function classifyItems(input: ClassifyInput, deps: ClassifyDeps, signal?: AbortSignal): Promise<ClassifyOutcome> {
  const usage: Usage = { modelCalls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
  const labelled = new Map<string, ResultItem>();
  const problems = new Map<string, Problem>();
  let unexpectedItems = 0;
  let rejection: ModelCallError | undefined;
  let pending: Item[] = [...input.items];
  let chunkSize = input.chunkSize;

  /** Call the model for one chunk and record what it answered; labelled texts are reported at once. */
  const runChunk = async (items: Item[]): Promise<{ truncated: number }> => {
    let answer: Awaited<ReturnType<typeof callModel>>;
    try {
      answer = await callModel(items, input, deps, signal);
    } catch (error) {
      if (error instanceof ModelCallError && !error.retryable) {
        rejection ??= error;
        for (const it of items) problems.set(it.id, { code: "MODEL_REJECTED_REQUEST", message: error.message });
        return { truncated: 0 };
      }
      throw error;
    }
    const { response, parsed } = answer;
    usage.modelCalls += 1;
    usage.inputTokens += response.usage.inputTokens;
    usage.outputTokens += response.usage.outputTokens;
    usage.costUsd += costUsd(input.model, response.usage.inputTokens, response.usage.outputTokens);

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
        const result: ResultItem = { id: item.id, labels: decoded.labels, source: "model", model: input.model.modelId, error: null };
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

  for (let round = 0; round <= input.maxReaskRounds && pending.length > 0; round++) {
    signal?.throwIfAborted();
    const settled = await Promise.allSettled(chunk(pending, chunkSize).map(runChunk));
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

async function callModel(items: Item[], input: ClassifyInput, deps: ClassifyDeps, signal?: AbortSignal) {
  const user = renderUserMessage(items.map((it) => it.text));
  // ~4 characters per token: close enough to weigh calls against a tokens-per-minute budget.
  const weight = Math.ceil((input.prompt.system.length + user.length) / 4) + items.length * 40;
  const inputTokens = Math.ceil((input.prompt.system.length + user.length) / 4);
  if (inputTokens + input.inference.maxTokens > input.model.contextTokens) {
    // Bedrock would refuse it (ValidationException) after a round trip and a quota slot: say so now.
    throw new ModelCallError(
      "MODEL_REJECTED_REQUEST",
      input.model.modelId,
      `the prompt (~${inputTokens} tokens) plus ${input.inference.maxTokens} output tokens exceeds ${input.model.alias}'s context of ${input.model.contextTokens} tokens; choose a model with a larger context or a smaller taxonomy`,
    );
  }
  const response = await deps.limiter.schedule(weight, () =>
    deps.provider.converse({ modelId: input.model.modelId, system: input.prompt.system, user, inference: input.inference }, signal),
  );
  return { response, parsed: parseModelOutput(response.text, response.stopReason) };
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
