import http2 from "node:http2";
import { BedrockRuntimeClient, ConverseCommand, type ConverseCommandInput, type ConverseCommandOutput } from "@aws-sdk/client-bedrock-runtime";
import { NodeHttp2Handler } from "@smithy/node-http-handler";
import llama3Tokenizer from "llama3-tokenizer-js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { emulatorClient } from "./support/emulator-client.ts";
import { startBedrockEmulator, type BedrockEmulator, type BedrockEmulatorOptions } from "../src/index.ts";

// One test per Bedrock rule the emulator (a test double) enforces; docs/bedrock-fidelity.md
// names the source of each and points here. Expected figures come from the rule's source
// and from the Llama 3 tokenizer, not from the emulator's own table.

const LLAMA3 = "meta.llama3-70b-instruct-v1:0";
const LLAMA33 = "us.meta.llama3-3-70b-instruct-v1:0";
const SCOUT = "us.meta.llama4-scout-17b-instruct-v1:0";
const MAVERICK = "us.meta.llama4-maverick-17b-instruct-v1:0";
const SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
const HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
const NOVA_MICRO = "amazon.nova-micro-v1:0";
const NOVA_LITE = "amazon.nova-lite-v1:0";
const QWEN3 = "qwen.qwen3-32b-v1:0";
const GPT_OSS = "openai.gpt-oss-120b-1:0";
const CATALOGUE = [LLAMA3, LLAMA33, SCOUT, MAVERICK, SONNET, HAIKU, NOVA_MICRO, NOVA_LITE, QWEN3, GPT_OSS];

const SYSTEM = [
  "You label short product-feedback texts.",
  "",
  "## Output format",
  'Answer with one JSON object {"r":[...]}, one object per text, "i" being the text\'s number.',
  "Use these keys:",
  '- sp (sentiment_polarity): one of "pos", "neg", "neu", "mix"',
  "- sc (sarcasm): 1 for yes, 0 for no",
].join("\n");
const USER = ['{"i":1,"t":"I love this kettle, excellent value."}', '{"i":2,"t":"Broken after two days, I want a refund."}'].join("\n");

const tokens = (text: string) => llama3Tokenizer.encode(text, { bos: false, eos: false }).length;

function request(modelId: string, overrides: Partial<ConverseCommandInput> = {}): ConverseCommandInput {
  return { modelId, system: [{ text: SYSTEM }], messages: [{ role: "user", content: [{ text: USER }] }], ...overrides };
}

interface SdkError {
  name: string;
  message: string;
  $metadata: { httpStatusCode?: number; attempts?: number };
}

let emulator: BedrockEmulator;
let client: BedrockRuntimeClient;

async function converse(input: ConverseCommandInput, c: BedrockRuntimeClient = client): Promise<ConverseCommandOutput> {
  return c.send(new ConverseCommand(input));
}

async function converseError(input: ConverseCommandInput, c: BedrockRuntimeClient = client): Promise<SdkError> {
  try {
    await c.send(new ConverseCommand(input));
  } catch (error) {
    return error as SdkError;
  }
  throw new Error("expected the call to fail");
}

/** Raw HTTP/2 call, for headers the SDK hides. */
async function rawConverse(url: string, input: ConverseCommandInput): Promise<{ status: number; headers: http2.IncomingHttpHeaders }> {
  const session = http2.connect(url);
  try {
    return await new Promise((resolve, reject) => {
      const { modelId, ...body } = input;
      const stream = session.request({ ":method": "POST", ":path": `/model/${encodeURIComponent(modelId ?? "")}/converse`, "content-type": "application/json" });
      stream.on("response", (headers) => resolve({ status: Number(headers[":status"]), headers }));
      stream.on("error", reject);
      stream.resume();
      stream.end(JSON.stringify(body));
    });
  } finally {
    session.close();
  }
}

/** An emulator and client of the test's own, for settings the shared one should not carry. */
async function own<T>(options: BedrockEmulatorOptions, run: (e: BedrockEmulator, c: BedrockRuntimeClient) => Promise<T>, maxAttempts = 1): Promise<T> {
  const e = await startBedrockEmulator({ port: 0, ...options });
  const c = emulatorClient(e.url, maxAttempts);
  try {
    return await run(e, c);
  } finally {
    c.destroy();
    await e.close();
  }
}

beforeAll(async () => {
  emulator = await startBedrockEmulator({ port: 0, seed: 3 });
  client = emulatorClient(emulator.url, 1);
});

afterAll(async () => {
  client?.destroy();
  await emulator?.close();
});

beforeEach(() => {
  emulator.setLenient([]);
  emulator.setQuota({});
  emulator.setMaxConcurrent(0);
  emulator.reset();
});

describe("Bedrock rules: model ids", () => {
  it("unknown-model: an id Bedrock does not serve, or a profile it does not offer, is a ValidationException", async () => {
    for (const modelId of ["some.other-model-v1:0", "us.meta.llama3-70b-instruct-v1:0", "eu.meta.llama3-3-70b-instruct-v1:0"]) {
      const error = await converseError(request(modelId));
      expect(error.name, modelId).toBe("ValidationException");
      expect(error.message).toBe("The provided model identifier is invalid.");
    }
    emulator.setLenient(["unknown-model"]);
    expect((await converse(request("some.other-model-v1:0"))).stopReason).toBe("end_turn");
  });

  it("inference-profile: base ids served only through a profile get the on-demand ValidationException; their profiles answer", async () => {
    const profileOnly = [LLAMA33, SCOUT, MAVERICK, SONNET, HAIKU];
    for (const profile of profileOnly) {
      const base = profile.replace(/^us\./, "");
      const error = await converseError(request(base));
      expect(error.name, base).toBe("ValidationException");
      expect(error.message).toBe(
        `Invocation of model ID ${base} with on-demand throughput isn\u2019t supported. Retry your request with the ID or ARN of an inference profile that contains this model.`,
      );
      expect((await converse(request(profile, { inferenceConfig: { temperature: 0.2 } }))).stopReason, profile).toBe("end_turn");
    }
    // Llama 3 70B and Nova have on-demand base ids.
    for (const base of [LLAMA3, NOVA_MICRO, NOVA_LITE]) expect((await converse(request(base))).stopReason, base).toBe("end_turn");
    emulator.setLenient(["inference-profile"]);
    expect((await converse(request("anthropic.claude-sonnet-4-5-20250929-v1:0"))).stopReason).toBe("end_turn");
  });
});

describe("Bedrock rules: Regions", () => {
  it("profile-region: a geographic profile answers only from its own geography's Regions; global. from any", async () => {
    const fromRegion = (region: string) =>
      new BedrockRuntimeClient({ region, endpoint: emulator.url, credentials: { accessKeyId: "test", secretAccessKey: "test" }, maxAttempts: 1, requestHandler: new NodeHttp2Handler({ requestTimeout: 10_000 }) });
    const eu = fromRegion("eu-west-1");
    const us = fromRegion("us-west-2");
    const sonnet = (prefix: string) => request(`${prefix}.anthropic.claude-sonnet-4-5-20250929-v1:0`, { inferenceConfig: { temperature: 0.2 } });
    try {
      const error = await converseError(sonnet("us"), eu);
      expect(error.name).toBe("ValidationException");
      expect(error.message).toBe("The provided model identifier is invalid.");
      expect((await converseError(sonnet("eu"), us)).message).toBe("The provided model identifier is invalid.");
      expect((await converse(sonnet("eu"), eu)).stopReason).toBe("end_turn");
      expect((await converse(sonnet("us"), us)).stopReason).toBe("end_turn");
      for (const c of [eu, us]) expect((await converse(sonnet("global"), c)).stopReason).toBe("end_turn");
      // In-Region base ids answer from anywhere the model is offered.
      expect((await converse(request(NOVA_LITE), eu)).stopReason).toBe("end_turn");
      emulator.setLenient(["profile-region"]);
      expect((await converse(sonnet("us"), eu)).stopReason).toBe("end_turn");
    } finally {
      eu.destroy();
      us.destroy();
    }
  });
});

describe("Bedrock rules: inference parameters", () => {
  it("context-window: input longer than the model's context is a ValidationException (Llama 3 70B: 8K tokens)", async () => {
    const long = `${USER}\n${"Battery died in a week, the colour is lovely though. ".repeat(800)}`;
    expect(tokens(SYSTEM) + tokens(long)).toBeGreaterThan(8192);
    const error = await converseError(request(LLAMA3, { messages: [{ role: "user", content: [{ text: long }] }] }));
    expect(error.name).toBe("ValidationException");
    expect(error.message).toBe("Input is too long for requested model.");
    expect((await converse(request(LLAMA33, { messages: [{ role: "user", content: [{ text: long }] }] }))).stopReason).toBe("end_turn");
    emulator.setLenient(["context-window"]);
    expect((await converse(request(LLAMA3, { messages: [{ role: "user", content: [{ text: long }] }] }))).stopReason).toBe("end_turn");
  });

  it("sampling: Claude Sonnet 4.5 and Haiku 4.5 refuse temperature and topP together, take either alone; Llama and Nova take both", async () => {
    for (const modelId of [SONNET, HAIKU]) {
      const error = await converseError(request(modelId, { inferenceConfig: { temperature: 0.5, topP: 0.9 } }));
      expect(error.name, modelId).toBe("ValidationException");
      expect(error.message).toBe("The model returned the following errors: `temperature` and `top_p` cannot both be specified for this model. Please use only one.");
      expect(error.$metadata.httpStatusCode).toBe(400);
      expect((await converse(request(modelId, { inferenceConfig: { temperature: 0.5 } }))).stopReason).toBe("end_turn");
      expect((await converse(request(modelId, { inferenceConfig: { topP: 0.9 } }))).stopReason).toBe("end_turn");
    }
    for (const modelId of [LLAMA3, LLAMA33, SCOUT, MAVERICK, NOVA_MICRO, NOVA_LITE]) {
      expect((await converse(request(modelId, { inferenceConfig: { temperature: 0.5, topP: 0.9 } }))).stopReason, modelId).toBe("end_turn");
    }
    emulator.setLenient(["sampling"]);
    expect((await converse(request(SONNET, { inferenceConfig: { temperature: 0.5, topP: 0.9 } }))).stopReason).toBe("end_turn");
  });

  it("max-tokens: maxTokens above the model's output cap is a ValidationException naming the cap; the cap itself is accepted", async () => {
    const caps: Record<string, number> = { [LLAMA3]: 2048, [LLAMA33]: 2048, [SCOUT]: 8000, [MAVERICK]: 8000, [SONNET]: 64_000, [HAIKU]: 64_000, [NOVA_MICRO]: 5000, [NOVA_LITE]: 5000, [QWEN3]: 8192, [GPT_OSS]: 16_384 };
    for (const [modelId, cap] of Object.entries(caps)) {
      const error = await converseError(request(modelId, { inferenceConfig: { maxTokens: cap + 1 } }));
      expect(error.name, modelId).toBe("ValidationException");
      expect(error.message).toBe(`The maximum tokens you requested exceeds the model limit of ${cap}. Try again with a maximum tokens value that is lower than ${cap}.`);
      expect((await converse(request(modelId, { inferenceConfig: { maxTokens: cap } }))).stopReason, modelId).toBe("end_turn");
    }
    emulator.setLenient(["max-tokens"]);
    expect((await converse(request(LLAMA33, { inferenceConfig: { maxTokens: 8192 } }))).stopReason).toBe("end_turn");
  });
});

describe("Bedrock rules: tools", () => {
  const tool = { toolSpec: { name: "record_labels", inputSchema: { json: { type: "object" } } } };
  const withChoice = (modelId: string, toolChoice?: "auto" | "any" | "tool"): ConverseCommandInput =>
    request(modelId, {
      toolConfig: {
        tools: [tool],
        ...(toolChoice === undefined ? {} : { toolChoice: toolChoice === "auto" ? { auto: {} } : toolChoice === "any" ? { any: {} } : { tool: { name: "record_labels" } } }),
      },
    });

  it("tool-choice: Llama 3 has no tool use, Llama 3.3, Llama 4, Qwen3 and gpt-oss take only auto, Claude and Nova force a tool", async () => {
    expect((await converseError(withChoice(LLAMA3))).message).toBe("This model doesn't support tool use.");
    for (const modelId of [LLAMA33, SCOUT, MAVERICK, QWEN3, GPT_OSS]) {
      expect((await converse(withChoice(modelId, "auto"))).stopReason, modelId).toBe("tool_use");
      for (const forced of ["any", "tool"] as const) {
        const error = await converseError(withChoice(modelId, forced));
        expect(error.name, `${modelId} ${forced}`).toBe("ValidationException");
        expect(error.message).toContain(`toolConfig.toolChoice.${forced}`);
      }
    }
    for (const modelId of [SONNET, HAIKU, NOVA_MICRO, NOVA_LITE]) {
      for (const choice of ["auto", "any", "tool"] as const) expect((await converse(withChoice(modelId, choice))).stopReason, `${modelId} ${choice}`).toBe("tool_use");
    }
    emulator.setLenient(["tool-choice"]);
    expect((await converse(withChoice(LLAMA33, "tool"))).stopReason).toBe("tool_use");
  });
});

describe("Bedrock rules: prompt caching", () => {
  const cached = (modelId: string, system: string): ConverseCommandInput => request(modelId, { system: [{ text: system }, { cachePoint: { type: "default" } }] });
  // A system prompt of a known size: about 2,000 Llama 3 tokens.
  const LONG_SYSTEM = `${SYSTEM}\n\n## Definitions\n${"Sentiment polarity is the overall attitude of the text towards the product. ".repeat(150)}`;

  it("prompt-cache-model: a cachePoint on a model without prompt caching (Llama, Qwen3, gpt-oss) is a 403 AccessDeniedException, not retried", async () => {
    const retrying = emulatorClient(emulator.url, 3);
    try {
      for (const modelId of [LLAMA3, LLAMA33, SCOUT, MAVERICK, QWEN3, GPT_OSS]) {
        const error = await converseError(cached(modelId, SYSTEM), retrying);
        expect(error.name, modelId).toBe("AccessDeniedException");
        expect(error.$metadata.httpStatusCode).toBe(403);
        expect(error.$metadata.attempts).toBe(1);
        expect(error.message).toBe("You invoked an unsupported model or your request did not allow prompt caching. See the documentation for more information.");
      }
    } finally {
      retrying.destroy();
    }
    emulator.setLenient(["prompt-cache-model"]);
    expect((await converse(cached(LLAMA33, SYSTEM))).usage?.cacheWriteInputTokens).toBeUndefined();
  });

  it("cache-minimum: a prefix below the model's minimum is silently not cached (both fields 0); above it, written then read", async () => {
    const longTokens = tokens(LONG_SYSTEM);
    expect(longTokens).toBeGreaterThan(1024);
    expect(longTokens).toBeLessThan(4096);
    for (const modelId of [SONNET, HAIKU, NOVA_LITE]) {
      const short = await converse(cached(modelId, SYSTEM));
      expect(short.usage, modelId).toMatchObject({ cacheReadInputTokens: 0, cacheWriteInputTokens: 0, inputTokens: tokens(SYSTEM) + tokens(USER) });
    }
    // Sonnet 4.5 (1,024) and Nova (1,000 here) cache ~2,000 tokens; Haiku 4.5 needs 4,096.
    for (const modelId of [SONNET, NOVA_LITE]) {
      expect((await converse(cached(modelId, LONG_SYSTEM))).usage, modelId).toMatchObject({ cacheWriteInputTokens: longTokens, cacheReadInputTokens: 0 });
      expect((await converse(cached(modelId, LONG_SYSTEM))).usage, modelId).toMatchObject({ cacheWriteInputTokens: 0, cacheReadInputTokens: longTokens, inputTokens: tokens(USER) });
    }
    expect((await converse(cached(HAIKU, LONG_SYSTEM))).usage).toMatchObject({ cacheWriteInputTokens: 0, cacheReadInputTokens: 0 });
    emulator.setLenient(["cache-minimum"]);
    expect((await converse(cached(HAIKU, LONG_SYSTEM))).usage).toMatchObject({ cacheWriteInputTokens: longTokens });
  });
});

describe("Bedrock rules: quotas", () => {
  const inputTokens = tokens(SYSTEM) + tokens(USER);

  it("quota-reservation: a call reserves input + maxTokens when it starts, so it is throttled though it would use far less", async () => {
    const maxTokens = 1000;
    emulator.setQuota({ tpm: inputTokens + maxTokens - 1 });
    const error = await converseError(request(LLAMA33, { inferenceConfig: { maxTokens } }));
    expect(error.name).toBe("ThrottlingException");
    expect(error.message).toBe("Too many tokens, please wait before trying again.");
    expect(error.$metadata.httpStatusCode).toBe(429);
    // A smaller maxTokens fits the same quota.
    expect((await converse(request(LLAMA33, { inferenceConfig: { maxTokens: maxTokens - 1 } }))).stopReason).toBe("end_turn");
    // Without maxTokens Bedrock reserves the model's cap (2,048 for Llama 3.3).
    emulator.reset();
    emulator.setQuota({ tpm: inputTokens + 2047 });
    expect((await converseError(request(LLAMA33))).name).toBe("ThrottlingException");
    emulator.setLenient(["quota-reservation"]);
    expect((await converse(request(LLAMA33))).stopReason).toBe("end_turn");
  });

  it("quota-reservation: the reservation is held while the call runs and settles to input + output x burn-down (5 for Claude 4.5, 1 for Nova)", async () => {
    const maxTokens = 500;
    // Measure one answer's output (the simulated classifier answers the same for every model).
    const outputTokens = (await converse(request(NOVA_LITE, { inferenceConfig: { maxTokens } }))).usage?.outputTokens ?? 0;
    expect(outputTokens).toBeGreaterThan(10);
    const reserve = inputTokens + maxTokens;

    // Held while running: two calls at once need two reservations.
    await own({ quota: { tpm: 2 * reserve - 1 }, latency: { fixedMs: 300, perOutputTokenMs: 0 }, lenient: [] }, async (_e, c) => {
      const results = await Promise.allSettled([converse(request(NOVA_LITE, { inferenceConfig: { maxTokens } }), c), converse(request(NOVA_LITE, { inferenceConfig: { maxTokens } }), c)]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    });

    // Settled: after one call, the window holds input + output x burn-down; a second call reserves input + maxTokens.
    const room = (burndown: number) => inputTokens + outputTokens * burndown + reserve;
    for (const [modelId, burndown] of [[NOVA_LITE, 1], [HAIKU, 5]] as const) {
      await own({ quota: { tpm: room(burndown) }, lenient: [] }, async (_e, c) => {
        await converse(request(modelId, { inferenceConfig: { maxTokens } }), c);
        expect((await converse(request(modelId, { inferenceConfig: { maxTokens } }), c)).stopReason, modelId).toBe("end_turn");
      });
      await own({ quota: { tpm: room(burndown) - 1 }, lenient: [] }, async (_e, c) => {
        await converse(request(modelId, { inferenceConfig: { maxTokens } }), c);
        expect((await converseError(request(modelId, { inferenceConfig: { maxTokens } }), c)).name, modelId).toBe("ThrottlingException");
      });
    }
  });

  it("quotas are per model: one model's exhausted quota does not throttle another", async () => {
    emulator.setQuota({ rpm: 1 });
    await converse(request(NOVA_LITE));
    expect((await converseError(request(NOVA_LITE))).message).toBe("Too many requests, please wait before trying again.");
    expect((await converse(request(NOVA_MICRO))).stopReason).toBe("end_turn");
  });

  it("tokens per day: over the daily quota, ThrottlingException 'Too many tokens per day' until 24 hours have passed", async () => {
    const call = request(LLAMA3, { inferenceConfig: { maxTokens: 100 } });
    const used = (await converse(call)).usage?.totalTokens ?? 0;
    let now = 1_000_000;
    // Room for two settled calls and one more reservation (input + maxTokens), minus one token.
    await own({ clock: () => now, quota: { tpd: 2 * used + inputTokens + 100 - 1 }, lenient: [] }, async (_e, c) => {
      await converse(call, c);
      now += 10 * 60_000;
      await converse(call, c);
      now += 60 * 60_000;
      const error = await converseError(call, c);
      expect(error.name).toBe("ThrottlingException");
      expect(error.message).toBe("Too many tokens per day, please wait before trying again.");
      now = 1_000_000 + 24 * 60 * 60_000 + 1;
      expect((await converse(call, c)).stopReason).toBe("end_turn");
    });
  });

  it("retry-after: a quota 429 carries none by default, as Bedrock's; the retryAfter setting sends one", async () => {
    emulator.setQuota({ rpm: 1 });
    await converse(request(LLAMA3));
    const plain = await rawConverse(emulator.url, request(LLAMA3));
    expect(plain.status).toBe(429);
    expect(String(plain.headers["x-amzn-errortype"])).toMatch(/^ThrottlingException:/);
    expect(plain.headers["retry-after"]).toBeUndefined();
    emulator.setQuota({ rpm: 1, retryAfter: true });
    const told = await rawConverse(emulator.url, request(LLAMA3));
    expect(told.status).toBe(429);
    expect(Number(told.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(Number(told.headers["retry-after"])).toBeLessThanOrEqual(60);
  });

  it("maxConcurrent: calls above the cap get 503 ServiceUnavailableException 'Too many connections', which the SDK retries", async () => {
    await own({ maxConcurrent: 1, latency: { fixedMs: 300, perOutputTokenMs: 0 }, lenient: [] }, async (e, c) => {
      const results = await Promise.allSettled([converse(request(LLAMA3), c), converse(request(LLAMA3), c)]);
      const failed = results.flatMap((r) => (r.status === "rejected" ? [r.reason as SdkError] : []));
      expect(failed).toHaveLength(1);
      expect(failed[0]?.name).toBe("ServiceUnavailableException");
      expect(failed[0]?.$metadata.httpStatusCode).toBe(503);
      expect(failed[0]?.message).toBe("Too many connections, please wait before trying again.");
      expect(e.stats().errors).toEqual({ ServiceUnavailableException: 1 });
    });
  });
});

describe("Bedrock rules: token counts", () => {
  it("tokenizer: Llama usage is the Llama 3 tokenizer's count; lenient counts characters / 4", async () => {
    const out = await converse(request(LLAMA33));
    const text = out.output?.message?.content?.[0]?.text ?? "";
    expect(out.usage?.inputTokens).toBe(tokens(SYSTEM) + tokens(USER));
    expect(out.usage?.outputTokens).toBe(tokens(text));
    // JSON answers are far denser in tokens than four characters each.
    expect(out.usage?.outputTokens).toBeGreaterThan(Math.ceil(text.length / 4));
    emulator.setLenient(["tokenizer"]);
    const lenient = await converse(request(LLAMA33));
    expect(lenient.usage?.outputTokens).toBe(Math.ceil(text.length / 4));
  });

  it("every catalogue model answers a plain request with its own limits on the strict emulator", async () => {
    for (const modelId of CATALOGUE) expect((await converse(request(modelId, { inferenceConfig: { maxTokens: 1000, temperature: 0.2 } }))).stopReason, modelId).toBe("end_turn");
  });
});
