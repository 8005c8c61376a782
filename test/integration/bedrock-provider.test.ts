import { readFileSync } from "node:fs";
import { type BedrockRuntimeClient, type ConverseCommand, type ConverseCommandInput } from "@aws-sdk/client-bedrock-runtime";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ModelCallError } from "../../src/core/errors/errors.ts";
import { BedrockProvider, STRUCTURED_OUTPUT_TOOL } from "../../src/adapters/bedrock/bedrock-provider.ts";
import type { ModelRequest, ModelResponse } from "../../src/core/models/model-provider.ts";
import { costUsd, findModel, type ModelSpec } from "../../src/core/models/model-registry.ts";
import { parseModelOutput } from "../../src/core/models/parse-model-output.ts";
import { startBedrockEmulator, type BedrockEmulator } from "@labelq/bedrock-emulator";
import { PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { renderUserMessage } from "../../src/core/prompts/render-prompt.ts";
import { outputJsonSchema } from "../../src/core/taxonomy/output-json-schema.ts";
import { emulatorClient } from "../support/emulator-client.ts";
import { rejection } from "../support/fakes.ts";

// BedrockProvider over the wire: the real SDK client against the Bedrock emulator (test double,
// simulated model), with the real product-feedback prompt. The emulator refuses what Bedrock
// refuses per model (tool use, forced tool choice, prompt caching), so these tests show which
// request options each model in the registry can take.

const model = (alias: string): ModelSpec => {
  const m = findModel(alias);
  if (!m) throw new Error(`no model ${alias} in the registry`);
  return m;
};
const CLAUDE = model("claude-haiku");
const LLAMA33 = model("llama3.3-70b");
const LLAMA3 = model("llama3-70b");

const TEXTS = readFileSync("samples/product-feedback.jsonl", "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .slice(0, 12)
  .map((line) => (JSON.parse(line) as { text: string }).text);

let emulator: BedrockEmulator;
let client: BedrockRuntimeClient;
let provider: BedrockProvider;
let prompt: ResolvedPrompt;
let schema: Record<string, unknown>;

/** A client as src/adapters/aws-clients.ts builds it, pointed at the emulator. */
function makeClient(maxAttempts: number): BedrockRuntimeClient {
  return emulatorClient(emulator.url, maxAttempts);
}

function requestFor(m: ModelSpec, texts: readonly string[] = TEXTS, options: Partial<ModelRequest> = {}): ModelRequest {
  return {
    modelId: m.modelId,
    system: prompt.system,
    user: renderUserMessage(texts),
    inference: { ...m.sampling.defaults, maxTokens: Math.min(4096, m.maxOutputTokens) },
    format: "json",
    ...options,
  };
}

/** Parse and validate an answer as classify-items does; returns the text numbers whose labels are valid, and the problems. */
function labelled(response: ModelResponse): { numbers: number[]; problems: string[] } {
  const parsed = parseModelOutput(response.text, response.stopReason);
  const numbers: number[] = [];
  const problems: string[] = parsed.problem ? [parsed.problem] : [];
  for (const raw of parsed.items) {
    const { i, ...rest } = raw as Record<string, unknown>;
    const decoded = prompt.codec.decode(rest);
    if (decoded.ok && typeof i === "number") numbers.push(i);
    else problems.push(`${String(i)}: ${decoded.ok ? "no number" : decoded.issues.join("; ")}`);
  }
  return { numbers, problems };
}

const ALL = TEXTS.map((_, k) => k + 1);

beforeAll(async () => {
  emulator = await startBedrockEmulator({ port: 0, seed: 11 });
  client = makeClient(1);
  provider = new BedrockProvider(client);
  prompt = await new PromptRegistry("prompts").resolve("product-feedback", "v1");
  schema = outputJsonSchema(prompt.taxonomy);
});

afterAll(async () => {
  client?.destroy();
  await emulator?.close();
});

beforeEach(() => {
  emulator.setFaults([]);
  emulator.reset();
});

describe("BedrockProvider: structured output by forced tool use", () => {
  it("Claude answers through the record_labels tool, and every text gets valid labels", async () => {
    const response = await provider.converse(requestFor(CLAUDE, TEXTS, { structuredOutput: { schema } }));
    expect(response.stopReason).toBe("tool_use");
    expect(JSON.parse(response.text)).toHaveProperty("r");
    expect(labelled(response)).toEqual({ numbers: ALL, problems: [] });
    expect(response.usage.inputTokens).toBeGreaterThan(0);
    expect(response.usage.outputTokens).toBeGreaterThan(0);
    expect(response.usage.cacheReadInputTokens).toBeUndefined();
  });

  it("sends the schema as a forced tool's inputSchema", async () => {
    const sent: ConverseCommandInput[] = [];
    const recording = {
      send: (command: ConverseCommand, options?: { abortSignal?: AbortSignal }) => {
        sent.push(command.input);
        return client.send(command, options);
      },
    } as unknown as BedrockRuntimeClient;
    await new BedrockProvider(recording).converse(requestFor(CLAUDE, TEXTS.slice(0, 2), { structuredOutput: { schema }, cacheSystemPrompt: true }));
    expect(sent[0]?.toolConfig).toEqual({
      tools: [{ toolSpec: { name: STRUCTURED_OUTPUT_TOOL, description: expect.any(String) as string, inputSchema: { json: schema } } }],
      toolChoice: { tool: { name: STRUCTURED_OUTPUT_TOOL } },
    });
    expect(sent[0]?.system).toEqual([{ text: prompt.system }, { cachePoint: { type: "default" } }]);
  });

  it("falls back to the text when the model answers in text instead of calling the tool", async () => {
    emulator.setFaults([{ kind: "ignore-tool", times: 1 }]);
    const response = await provider.converse(requestFor(CLAUDE, TEXTS, { structuredOutput: { schema } }));
    expect(response.stopReason).toBe("end_turn");
    expect(labelled(response)).toEqual({ numbers: ALL, problems: [] });
  });

  it("a cut-off tool answer keeps stopReason max_tokens, so the parser drops the last item", async () => {
    const response = await provider.converse(requestFor(CLAUDE, TEXTS, { structuredOutput: { schema }, inference: { temperature: 0.5, maxTokens: 200 } }));
    expect(response.stopReason).toBe("max_tokens");
    const { numbers } = labelled(response);
    expect(numbers.length).toBeLessThan(TEXTS.length);
    expect(numbers).toEqual(ALL.slice(0, numbers.length));
  });

  it("Llama 3.3 labels every text with JSON in the text, without structured output", async () => {
    const response = await provider.converse(requestFor(LLAMA33));
    expect(response.stopReason).toBe("end_turn");
    expect(labelled(response)).toEqual({ numbers: ALL, problems: [] });
    expect(response.usage).toEqual({ inputTokens: expect.any(Number) as number, outputTokens: expect.any(Number) as number });
  });

  it("Llama 3.3 rejects the forced tool: MODEL_REJECTED_REQUEST (why the registry says structuredOutput none)", async () => {
    const error = await rejection(provider.converse(requestFor(LLAMA33, TEXTS, { structuredOutput: { schema } })));
    expect(error).toBeInstanceOf(ModelCallError);
    expect(error).toMatchObject({ code: "MODEL_REJECTED_REQUEST", retryable: false, modelId: LLAMA33.modelId });
    expect((error as ModelCallError).message).toContain("toolChoice.tool");
  });

  it("Llama 3 70B rejects any toolConfig: MODEL_REJECTED_REQUEST, not retryable, and the SDK does not retry it", async () => {
    const retrying = makeClient(3);
    try {
      const error = await rejection(new BedrockProvider(retrying).converse(requestFor(LLAMA3, TEXTS.slice(0, 3), { structuredOutput: { schema } })));
      expect(error).toBeInstanceOf(ModelCallError);
      expect(error).toMatchObject({ code: "MODEL_REJECTED_REQUEST", retryable: false, modelId: LLAMA3.modelId });
      expect((error as ModelCallError).message).toBe(`ValidationException from ${LLAMA3.modelId}: This model doesn't support tool use.`);
    } finally {
      retrying.destroy();
    }
    expect(emulator.stats()).toMatchObject({ calls: 1, errors: { ValidationException: 1 } });
  });
});

describe("BedrockProvider: prompt caching of the system prompt", () => {
  // Token counts come from the emulator's tokenizer, as they come from Bedrock's: the tests take
  // the system prompt's size from the first write rather than computing it themselves.
  it("Claude reports a cache write on the first call and a cache read on the next, for other texts too", async () => {
    const options = { structuredOutput: { schema }, cacheSystemPrompt: true };
    const first = await provider.converse(requestFor(CLAUDE, TEXTS.slice(0, 6), options));
    const second = await provider.converse(requestFor(CLAUDE, TEXTS.slice(6), options));
    const systemTokens = first.usage.cacheWriteInputTokens ?? 0;
    // Above Claude's minimum cacheable prefix (1,024 tokens), so the prompt is cached at all.
    expect(systemTokens).toBeGreaterThan(1024);
    expect(first.usage).toMatchObject({ cacheReadInputTokens: 0 });
    expect(second.usage).toMatchObject({ cacheWriteInputTokens: 0, cacheReadInputTokens: systemTokens });
    // The cached system prompt is not in inputTokens: only the user turn is.
    expect(second.usage.inputTokens).toBeLessThan(systemTokens);
    expect(labelled(first).numbers).toEqual([1, 2, 3, 4, 5, 6]);
    expect(labelled(second).numbers).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("prices the cache tokens: a read costs a tenth of sending the system prompt, a write a quarter more", async () => {
    const request = requestFor(CLAUDE, TEXTS.slice(0, 4), { cacheSystemPrompt: true });
    const uncached = await provider.converse(requestFor(CLAUDE, TEXTS.slice(0, 4)));
    const write = await provider.converse(request);
    const read = await provider.converse(request);
    const cost = (r: ModelResponse) =>
      costUsd(CLAUDE, r.usage.inputTokens, r.usage.outputTokens, { readTokens: r.usage.cacheReadInputTokens, writeTokens: r.usage.cacheWriteInputTokens });
    const { inputPer1k } = CLAUDE.price;
    const systemTokens = write.usage.cacheWriteInputTokens ?? 0;
    expect(systemTokens).toBeGreaterThan(0);
    const promptCost = (systemTokens / 1000) * inputPer1k;
    // Same answer, same output tokens: the costs differ only in how the system prompt is priced.
    expect(write.usage.outputTokens).toBe(uncached.usage.outputTokens);
    expect(write.usage.inputTokens + systemTokens).toBe(uncached.usage.inputTokens);
    expect(read.usage.cacheReadInputTokens).toBe(systemTokens);
    expect(cost(write) - cost(uncached)).toBeCloseTo(promptCost * 0.25, 9);
    expect(cost(uncached) - cost(read)).toBeCloseTo(promptCost * 0.9, 9);
  });

  it("Llama rejects a cache point: MODEL_REJECTED_REQUEST, not retryable", async () => {
    for (const m of [LLAMA33, LLAMA3]) {
      const error = await rejection(provider.converse(requestFor(m, TEXTS.slice(0, 2), { cacheSystemPrompt: true })));
      expect(error, m.alias).toMatchObject({ code: "MODEL_REJECTED_REQUEST", retryable: false });
    }
  });

  it("the registry's flags pick the options each model takes", async () => {
    for (const m of [CLAUDE, model("claude-sonnet"), LLAMA33]) {
      const response = await provider.converse(
        requestFor(m, TEXTS.slice(0, 3), {
          ...(m.capabilities.structuredOutput === "tool" ? { structuredOutput: { schema } } : {}),
          cacheSystemPrompt: m.capabilities.promptCache,
        }),
      );
      expect(labelled(response), m.alias).toEqual({ numbers: [1, 2, 3], problems: [] });
    }
  });
});
