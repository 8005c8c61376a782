import { beforeAll, describe, expect, it } from "vitest";
import { classifyItems, type ClassifyOutcome } from "../../src/core/classify/classify-items.ts";
import { ModelCallError } from "../../src/core/errors/errors.ts";
import type { ModelProvider, ModelRequest, ModelResponse } from "../../src/core/models/model-provider.ts";
import { findModel, type ModelSpec } from "../../src/core/models/model-registry.ts";
import { PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { FakeModelProvider, PROMPTS_DIR, PassThroughLimiter, silentLogger, validCompactLabels, type FakeModelOptions } from "../support/fakes.ts";

let prompt: ResolvedPrompt;
let model: ModelSpec;

beforeAll(async () => {
  prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "prod");
  model = findModel("llama3.3-70b")!;
});

const TEXTS = ["Kettle boils fast.", "Lid broke on day two.", "Where is my order?", "Lovely hoodie.", "Charger runs hot.", "Late again."];
const items = TEXTS.map((text, n) => ({ id: `t${n + 1}`, text }));

/**
 * The fake model's answers, released in the reverse order of the calls: the last chunk's answer
 * comes back first, the first chunk's last. Only the first round's calls (`held` of them) wait.
 */
class ReversedAnswers implements ModelProvider {
  readonly #inner: FakeModelProvider;
  readonly #held: number;
  readonly #released: (() => void)[] = [];
  readonly #gates: Promise<void>[] = [];
  readonly order: number[] = [];

  constructor(damage: FakeModelOptions["damage"], held: number) {
    this.#inner = new FakeModelProvider({ labeller: (text) => validCompactLabels(prompt.taxonomy, text), damage });
    this.#held = held;
    for (let k = 0; k < held; k++) this.#gates.push(new Promise<void>((resolve) => this.#released.push(resolve)));
  }

  async converse(request: ModelRequest, signal?: AbortSignal): Promise<ModelResponse> {
    const index = this.#inner.calls.length;
    const answer = this.#inner.converse(request, signal);
    if (index >= this.#held) return answer;
    // The last held call goes at once; each other waits for the one after it.
    if (index === this.#held - 1) this.#released[index]!();
    await this.#gates[index];
    this.order.push(index);
    this.#released[index - 1]?.();
    return answer;
  }
}

async function classify(provider: ModelProvider, chunkSize: number): Promise<ClassifyOutcome> {
  return classifyItems(
    { items, prompt, model, inference: { temperature: 0.5, topP: 0.9, maxTokens: 2048 }, chunkSize, maxReaskRounds: 1 },
    { provider, limiter: new PassThroughLimiter(), logger: silentLogger() },
  );
}

describe("classifyItems merges what each chunk returns, whatever order the chunks finish in", () => {
  it("gives every text its own labels, in input order, with every chunk's usage, when the answers come back last chunk first", async () => {
    const inOrder = await classify(new FakeModelProvider({ labeller: (text) => validCompactLabels(prompt.taxonomy, text) }), 2);
    const reversed = new ReversedAnswers(undefined, 3);
    const outcome = await classify(reversed, 2);
    expect(reversed.order).toEqual([2, 1, 0]);
    expect(outcome).toEqual(inOrder);
    expect(outcome.items.map((it) => it.id)).toEqual(items.map((it) => it.id));
    expect(outcome.items.every((it) => it.error === null)).toBe(true);
    expect(outcome.usage.modelCalls).toBe(3);
  });

  it("reports the first chunk's rejection, not the first to arrive, and re-asks only the texts a chunk left out", async () => {
    const first = new ModelCallError("MODEL_REJECTED_REQUEST", model.modelId, "first chunk refused");
    const last = new ModelCallError("MODEL_REJECTED_REQUEST", model.modelId, "last chunk refused");
    // Chunk 0 and 2 are refused; chunk 1's answer leaves its second text out, asked again in round 2.
    const provider = new ReversedAnswers(
      (call) => (call.index === 0 ? { error: first } : call.index === 2 ? { error: last } : call.index === 1 ? { rewrite: (t, clean) => (t.i === 2 ? [] : [clean]) } : undefined),
      3,
    );
    const outcome = await classify(provider, 2);
    expect(provider.order).toEqual([2, 1, 0]);
    expect(outcome.rejection).toBe(first);
    expect(outcome.items.map((it) => it.error?.message ?? "labelled")).toEqual([
      "first chunk refused",
      "first chunk refused",
      "labelled",
      "labelled",
      "last chunk refused",
      "last chunk refused",
    ]);
    expect(outcome.usage.modelCalls).toBe(4);
  });
});
