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

  for (let round = 0; round <= input.maxReaskRounds && pending.length > 0; round++) {
    signal?.throwIfAborted();
    const chunks = chunk(pending, chunkSize);
    const settled = await Promise.allSettled(chunks.map((c) => callModel(c, input, deps, signal)));
    let truncated = false;
    for (const [n, outcome] of settled.entries()) {
      const items = chunks[n] ?? [];
      if (outcome.status === "rejected") {
        const error: unknown = outcome.reason;
        if (error instanceof ModelCallError && !error.retryable) {
          rejection ??= error;
          for (const it of items) problems.set(it.id, { code: "MODEL_REJECTED_REQUEST", message: error.message });
          continue;
        }
        throw error;
      }
      const { response, parsed } = outcome.value;
      usage.modelCalls += 1;
      usage.inputTokens += response.usage.inputTokens;
      usage.outputTokens += response.usage.outputTokens;
      usage.costUsd += costUsd(input.model, response.usage.inputTokens, response.usage.outputTokens);
      if (response.stopReason === "max_tokens") truncated = true;

      const seen = new Set<number>();
      for (const raw of parsed.items) {
        const { number, rest } = splitNumber(raw);
        const item = number !== undefined ? items[number - 1] : undefined;
        if (!item || seen.has(number!)) {
          unexpectedItems += 1;
          continue;
        }
        seen.add(number!);
        const decoded = input.prompt.codec.decode(rest);
        if (decoded.ok) {
          labelled.set(item.id, { id: item.id, labels: decoded.labels, source: "model", model: input.model.modelId, error: null });
          problems.delete(item.id);
        } else {
          problems.set(item.id, { code: "INVALID_OUTPUT", message: `invalid labels: ${decoded.issues.join("; ")}` });
        }
      }
      for (const [index, item] of items.entries()) {
        if (!seen.has(index + 1) && !labelled.has(item.id)) {
          problems.set(item.id, {
            code: "MISSING_FROM_OUTPUT",
            message: `no labels for this text in the model's answer${parsed.problem ? ` (${parsed.problem})` : ""}`,
          });
        }
      }
    }
    pending = pending.filter((it) => !labelled.has(it.id) && problems.get(it.id)?.code !== "MODEL_REJECTED_REQUEST");
    if (truncated) chunkSize = Math.max(1, Math.ceil(chunkSize / 2));
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
