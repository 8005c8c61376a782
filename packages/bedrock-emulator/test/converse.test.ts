import http2 from "node:http2";
import { type BedrockRuntimeClient, ConverseCommand, type ConverseCommandInput, type ConverseCommandOutput } from "@aws-sdk/client-bedrock-runtime";
import llama3Tokenizer from "llama3-tokenizer-js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { emulatorClient } from "./support/emulator-client.ts";
import { startBedrockEmulator, type BedrockEmulator, type FaultKind } from "../src/index.ts";

// Exercises the Bedrock emulator (test double, simulated model) over the wire with the
// real SDK client, as the service and the demo use it.

const MODEL = "meta.llama3-70b-instruct-v1:0";
// Llama 3 70B has no tool use on Bedrock (the emulator refuses it too): tool answers come from Claude.
const CLAUDE = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
const LLAMA33 = "us.meta.llama3-3-70b-instruct-v1:0";
const NOVA = "amazon.nova-pro-v1:0";
const SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

/** Token count by the Llama 3 tokenizer: what the emulator reports for Llama (and, as an approximation, Claude and Nova). */
const tokens = (text: string) => llama3Tokenizer.encode(text, { bos: false, eos: false }).length;

type Key =
  | { code: string; name: string; kind: "single"; labels: string[] }
  | { code: string; name: string; kind: "multi"; labels: string[]; min: number; max: number }
  | { code: string; name: string; kind: "scale"; min: number; max: number; nullable: boolean }
  | { code: string; name: string; kind: "boolean"; nullable: boolean };

// The test renders its own prompt in the fixed grammar, so it does not depend on the
// emulator's parser to say what is allowed.
const KEYS: Key[] = [
  { code: "sp", name: "sentiment_polarity", kind: "single", labels: ["pos", "neg", "neu", "mix"] },
  { code: "tp", name: "topics", kind: "multi", labels: ["pri", "qua", "dur", "del"], min: 0, max: 2 },
  { code: "pl", name: "purchase_likelihood", kind: "scale", min: 1, max: 5, nullable: true },
  { code: "sc", name: "sarcasm", kind: "boolean", nullable: false },
];

function renderKey(key: Key): string {
  const quoted = (labels: string[]) => labels.map((l) => `"${l}"`).join(", ");
  const orNull = (nullable: boolean) => (nullable ? ", or null when unknown" : "");
  const spec =
    key.kind === "single"
      ? `one of ${quoted(key.labels)}`
      : key.kind === "multi"
        ? `list of ${key.min} to ${key.max} of ${quoted(key.labels)}`
        : key.kind === "scale"
          ? `integer from ${key.min} to ${key.max}${orNull(key.nullable)}`
          : `1 for yes, 0 for no${orNull(key.nullable)}`;
  return `- ${key.code} (${key.name}): ${spec}`;
}

const SYSTEM = [
  "You label short product-feedback texts.",
  "",
  "## Output format",
  'Answer with one JSON object {"r":[...]}, one object per text, "i" being the text\'s number.',
  "Use these keys:",
  ...KEYS.map(renderKey),
  "",
  "## Rules",
  "Do not explain.",
].join("\n");

const TEXTS = [
  { i: 1, t: "I love this kettle, excellent value for the price." },
  { i: 2, t: "Broken after two days, I want a refund. Worst purchase ever." },
  { i: 3, t: "Oh great, another charger that dies after a week. Yeah right, 'premium quality'." },
  { i: 4, t: "Das Paket kam pünktlich an, die Verpackung ist ok." },
];
const IDS = TEXTS.map((t) => t.i);
const USER = ["Label each text below.", ...TEXTS.map((t) => JSON.stringify(t)), "Answer with JSON only."].join("\n");

function request(overrides: Partial<ConverseCommandInput> = {}): ConverseCommandInput {
  return {
    modelId: MODEL,
    system: [{ text: SYSTEM }],
    messages: [{ role: "user", content: [{ text: USER }] }],
    ...overrides,
  };
}

function isAllowed(key: Key, value: unknown): boolean {
  switch (key.kind) {
    case "single":
      return typeof value === "string" && key.labels.includes(value);
    case "multi":
      return (
        Array.isArray(value) &&
        value.length >= key.min &&
        value.length <= key.max &&
        value.every((v) => typeof v === "string" && key.labels.includes(v)) &&
        new Set(value).size === value.length
      );
    case "scale":
      return (value === null && key.nullable) || (Number.isInteger(value) && (value as number) >= key.min && (value as number) <= key.max);
    case "boolean":
      return (value === null && key.nullable) || value === 0 || value === 1;
  }
}

type Item = Record<string, unknown> & { i: number };

function parseItems(text: string): Item[] {
  const parsed = JSON.parse(text) as { r: Item[] };
  return parsed.r;
}

function invalidValues(items: Item[]): string[] {
  return items.flatMap((item) => KEYS.filter((k) => !isAllowed(k, item[k.code])).map((k) => `${item.i}.${k.code}`));
}

function textOf(out: ConverseCommandOutput): string {
  const block = out.output?.message?.content?.[0];
  if (block === undefined || !("text" in block) || typeof block.text !== "string") throw new Error("no text block in the answer");
  return block.text;
}

/** Raw HTTP/2 call, for the control routes and for headers the SDK hides. */
async function h2(method: string, path: string, body?: string): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }> {
  const session = http2.connect(emulator.url);
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request({ ":method": method, ":path": path, "content-type": "application/json" });
      let headers: http2.IncomingHttpHeaders = {};
      let data = "";
      stream.setEncoding("utf8");
      stream.on("response", (h) => (headers = h));
      stream.on("data", (chunk: string) => (data += chunk));
      stream.on("end", () => resolve({ status: Number(headers[":status"]), headers, body: data }));
      stream.on("error", reject);
      stream.end(body);
    });
  } finally {
    session.close();
  }
}

interface SdkError {
  name: string;
  message: string;
  $retryable?: unknown;
  $metadata: { httpStatusCode?: number; attempts?: number };
}

async function converseError(c: BedrockRuntimeClient, input: ConverseCommandInput = request()): Promise<SdkError> {
  try {
    await c.send(new ConverseCommand(input));
  } catch (error) {
    return error as SdkError;
  }
  throw new Error("expected the call to fail");
}

function makeClient(maxAttempts: number): BedrockRuntimeClient {
  return emulatorClient(emulator.url, maxAttempts);
}

let emulator: BedrockEmulator;
let client: BedrockRuntimeClient;
const logLines: string[] = [];

async function converse(input: ConverseCommandInput = request()): Promise<ConverseCommandOutput> {
  return client.send(new ConverseCommand(input));
}

beforeAll(async () => {
  emulator = await startBedrockEmulator({ port: 0, seed: 7, logger: (line) => logLines.push(line) });
  client = makeClient(1);
});

afterAll(async () => {
  client?.destroy();
  await emulator?.close();
});

beforeEach(() => {
  emulator.setFaults([]);
  emulator.setQuota({});
  emulator.setLatency({ fixedMs: 0, perOutputTokenMs: 0 });
  emulator.setUnavailableModels([]);
  emulator.setLenient([]);
  emulator.reset();
});

describe("Bedrock emulator: start-up", () => {
  it("says it is a test double with a simulated model, and where it listens", () => {
    expect(emulator.url).toBe(`http://127.0.0.1:${emulator.port}`);
    expect(logLines).toHaveLength(1);
    expect(logLines[0]).toContain("Bedrock emulator");
    expect(logLines[0]).toContain("test double");
    expect(logLines[0]).toContain("simulated");
    expect(logLines[0]).toContain(emulator.url);
  });
});

describe("Bedrock emulator: simulated classifier", () => {
  it("answers valid JSON with exactly the asked ids and allowed values", async () => {
    const out = await converse();
    expect(out.stopReason).toBe("end_turn");
    const items = parseItems(textOf(out));
    expect(items.map((x) => x.i)).toEqual(IDS);
    expect(invalidValues(items)).toEqual([]);
    for (const item of items) expect(Object.keys(item).sort()).toEqual(["i", ...KEYS.map((k) => k.code)].sort());
    expect(out.usage?.inputTokens).toBe(tokens(SYSTEM) + tokens(USER));
    expect(out.usage?.outputTokens).toBe(tokens(textOf(out)));
    expect(out.usage?.totalTokens).toBe((out.usage?.inputTokens ?? 0) + (out.usage?.outputTokens ?? 0));
    expect(out.metrics?.latencyMs).toBe(0);
  });

  it("gives the same answer to the same text and prompt", async () => {
    const first = textOf(await converse());
    const second = textOf(await converse());
    expect(second).toBe(first);
  });

  it("follows the light heuristics for sentiment and sarcasm", async () => {
    const items = parseItems(textOf(await converse()));
    const byId = new Map(items.map((x) => [x.i, x]));
    expect(byId.get(1)?.sp).toBe("pos");
    expect(byId.get(2)?.sp).toBe("neg");
    expect(byId.get(3)?.sc).toBe(1);
  });

  it("answers a tool call with a toolUse block when the request has a tool", async () => {
    const out = await converse(
      request({
        modelId: CLAUDE,
        toolConfig: {
          tools: [{ toolSpec: { name: "record_labels", inputSchema: { json: { type: "object" } } } }],
          toolChoice: { tool: { name: "record_labels" } },
        },
      }),
    );
    expect(out.stopReason).toBe("tool_use");
    const block = out.output?.message?.content?.[0];
    expect(block && "toolUse" in block ? block.toolUse?.name : undefined).toBe("record_labels");
    const input = block && "toolUse" in block ? (block.toolUse?.input as { r: Item[] }) : undefined;
    expect(input?.r.map((x) => x.i)).toEqual(IDS);
    expect(invalidValues(input?.r ?? [])).toEqual([]);
  });

  it("answers prose, as a model would, when there is no output format or no texts", async () => {
    const out = await converse(request({ system: [{ text: "You are helpful." }] }));
    expect(out.stopReason).toBe("end_turn");
    expect(() => JSON.parse(textOf(out)) as unknown).toThrow();
  });

  it("stops at inferenceConfig.maxTokens with stopReason max_tokens", async () => {
    const out = await converse(request({ inferenceConfig: { maxTokens: 10 } }));
    expect(out.stopReason).toBe("max_tokens");
    expect(textOf(out).length).toBeLessThanOrEqual(40);
    expect(out.usage?.outputTokens).toBeLessThanOrEqual(10);
    expect(() => JSON.parse(textOf(out)) as unknown).toThrow();
  });
});

describe("Bedrock emulator: output faults", () => {
  let clean: string;
  beforeAll(async () => {
    emulator.setFaults([]);
    clean = textOf(await converse());
  });

  // ignore-tool applies only to calls with a tool: tested on its own below; the lines-format faults in bedrock-emulator-lines.test.ts.
  type JsonOutputFault = Exclude<FaultKind, "throttle" | "unavailable" | "internal" | "not-ready" | "validation" | "ignore-tool" | "missing-field" | "broken-line" | "extra-separator">;
  const cases: Record<JsonOutputFault, (out: ConverseCommandOutput) => void> = {
    "trailing-comma": (out) => {
      const text = textOf(out);
      expect(text).toContain(",}");
      expect(text.endsWith(",]}")).toBe(true);
      expect(() => JSON.parse(text) as unknown).toThrow();
      expect(text.replaceAll(",}", "}").replace(/,\]\}$/, "]}")).toBe(clean);
    },
    "missing-bracket": (out) => {
      const text = textOf(out);
      expect(text).toBe(clean.slice(0, -2));
      expect(() => JSON.parse(text) as unknown).toThrow();
    },
    prose: (out) => {
      expect(textOf(out)).toBe(`Here are the labels:\n${clean}\nLet me know if you need more.`);
    },
    "code-fence": (out) => {
      expect(textOf(out)).toBe("```json\n" + clean + "\n```");
    },
    truncate: (out) => {
      const text = textOf(out);
      expect(out.stopReason).toBe("max_tokens");
      expect(clean.startsWith(text)).toBe(true);
      expect(text.length).toBeGreaterThan(clean.length * 0.5);
      expect(text.length).toBeLessThan(clean.length * 0.7);
    },
    "missing-ids": (out) => {
      const ids = parseItems(textOf(out)).map((x) => x.i);
      expect(ids.length).toBeGreaterThanOrEqual(1);
      expect(ids.length).toBeLessThan(IDS.length);
      expect(ids.every((i) => IDS.includes(i))).toBe(true);
    },
    "extra-ids": (out) => {
      const ids = parseItems(textOf(out)).map((x) => x.i);
      expect(ids).toEqual([...IDS, 5, 999]);
    },
    "invalid-labels": (out) => {
      const items = parseItems(textOf(out));
      expect(items.map((x) => x.i)).toEqual(IDS);
      expect(invalidValues(items).length).toBeGreaterThanOrEqual(1);
    },
    empty: (out) => {
      expect(textOf(out)).toBe("");
      expect(out.usage?.outputTokens).toBe(0);
    },
  };

  for (const [kind, check] of Object.entries(cases) as [keyof typeof cases, (out: ConverseCommandOutput) => void][]) {
    it(`${kind}: damages the answer, once when times is 1`, async () => {
      emulator.setFaults([{ kind, times: 1 }]);
      check(await converse());
      // `times` is used up: the next answer is clean again.
      expect(textOf(await converse())).toBe(clean);
      expect(emulator.stats().faultsInjected).toEqual({ [kind]: 1 });
    });
  }

  it("combines several text faults", async () => {
    emulator.setFaults([{ kind: "prose" }, { kind: "code-fence" }, { kind: "trailing-comma" }]);
    const text = textOf(await converse());
    expect(text.startsWith("Here are the labels:\n```json\n{")).toBe(true);
    expect(text).toContain(",]}\n```\nLet me know");
  });

  it("applies a rule only to the models it names", async () => {
    emulator.setFaults([{ kind: "empty", models: [NOVA] }]);
    expect(textOf(await converse())).toBe(clean);
    expect(textOf(await converse(request({ modelId: NOVA })))).toBe("");
  });

  it("draws probabilities from a seeded PRNG, so runs repeat", async () => {
    const run = async () => {
      emulator.setFaults([{ kind: "empty", probability: 0.5 }]);
      const hits: boolean[] = [];
      for (let n = 0; n < 16; n++) hits.push(textOf(await converse()) === "");
      return hits;
    };
    const first = await run();
    expect(first.some(Boolean)).toBe(true);
    expect(first.every(Boolean)).toBe(false);
    expect(await run()).toEqual(first);
  });

  it("ignore-tool: offered a tool, answers the same JSON as text; not counted on calls without a tool", async () => {
    emulator.setFaults([{ kind: "ignore-tool", times: 1 }]);
    expect(textOf(await converse())).toBe(clean);
    const toolRequest = request({ modelId: CLAUDE, toolConfig: { tools: [{ toolSpec: { name: "record_labels", inputSchema: { json: { type: "object" } } } }], toolChoice: { tool: { name: "record_labels" } } } });
    const out = await converse(toolRequest);
    expect(out.stopReason).toBe("end_turn");
    expect(textOf(out)).toBe(textOf(await converse(request({ modelId: CLAUDE }))));
    expect(emulator.stats().faultsInjected).toEqual({ "ignore-tool": 1 });
    expect((await converse(toolRequest)).stopReason).toBe("tool_use");
  });

  it("damages tool-use input too (missing-ids)", async () => {
    emulator.setFaults([{ kind: "missing-ids" }]);
    const out = await converse(request({ modelId: CLAUDE, toolConfig: { tools: [{ toolSpec: { name: "record_labels", inputSchema: { json: { type: "object" } } } }] } }));
    const block = out.output?.message?.content?.[0];
    const input = block && "toolUse" in block ? (block.toolUse?.input as { r: Item[] }) : undefined;
    expect(input?.r.length).toBeLessThan(IDS.length);
  });
});

describe("Bedrock emulator: AWS-shaped errors through the real SDK", () => {
  const errorFaults = [
    { kind: "throttle", name: "ThrottlingException", status: 429 },
    { kind: "unavailable", name: "ServiceUnavailableException", status: 503 },
    { kind: "internal", name: "InternalServerException", status: 500 },
    { kind: "not-ready", name: "ModelNotReadyException", status: 429 },
  ] as const;

  for (const { kind, name, status } of errorFaults) {
    it(`${kind} -> ${name} ${status}, retried by the SDK`, async () => {
      emulator.setFaults([{ kind, times: 1 }]);
      const error = await converseError(client);
      expect(error.name).toBe(name);
      expect(error.$metadata.httpStatusCode).toBe(status);
      // ModelNotReady carries the retryable trait; the others are retried by name or status.
      if (kind === "not-ready") expect(error.$retryable).toBeDefined();

      emulator.setFaults([{ kind, times: 1 }]);
      const retrying = makeClient(2);
      try {
        const out = await retrying.send(new ConverseCommand(request()));
        expect(out.$metadata.attempts).toBe(2);
      } finally {
        retrying.destroy();
      }
      expect(emulator.stats().errors[name]).toBe(2);
    });
  }

  it("validation -> ValidationException 400, not retried by the SDK", async () => {
    emulator.setFaults([{ kind: "validation", times: 2 }]);
    const retrying = makeClient(3);
    try {
      const error = await converseError(retrying);
      expect(error.name).toBe("ValidationException");
      expect(error.$metadata.httpStatusCode).toBe(400);
      expect(error.$metadata.attempts).toBe(1);
    } finally {
      retrying.destroy();
      emulator.setFaults([]);
    }
  });

  it("ValidationException 400 for a blank text, not retried", async () => {
    const retrying = makeClient(3);
    try {
      const error = await converseError(retrying, request({ messages: [{ role: "user", content: [{ text: "  " }] }] }));
      expect(error.name).toBe("ValidationException");
      expect(error.$metadata.httpStatusCode).toBe(400);
      expect(error.$metadata.attempts).toBe(1);
      expect(error.$retryable).toBeUndefined();
    } finally {
      retrying.destroy();
    }
  });

  it("ValidationException for a bad JSON body, missing messages or an empty content list (raw HTTP/2)", async () => {
    const path = `/model/${encodeURIComponent(MODEL)}/converse`;
    for (const body of ["{not json", JSON.stringify({ system: [{ text: "x" }] }), JSON.stringify({ messages: [{ role: "user", content: [] }] })]) {
      const res = await h2("POST", path, body);
      expect(res.status).toBe(400);
      expect(String(res.headers["x-amzn-errortype"])).toMatch(/^ValidationException:/);
      expect(res.headers["content-type"]).toBe("application/json");
      expect(typeof (JSON.parse(res.body) as { message: unknown }).message).toBe("string");
    }
    expect(emulator.stats().errors.ValidationException).toBe(3);
  });

  it("unavailable model -> ServiceUnavailableException", async () => {
    emulator.setUnavailableModels([MODEL]);
    const error = await converseError(client);
    expect(error.name).toBe("ServiceUnavailableException");
    expect(error.$metadata.httpStatusCode).toBe(503);
    const other = await converse(request({ modelId: "amazon.nova-pro-v1:0" }));
    expect(other.stopReason).toBe("end_turn");
  });

  it("404 UnknownOperationException for any other route", async () => {
    const res = await h2("POST", "/model/x/invoke", "{}");
    expect(res.status).toBe(404);
    expect(String(res.headers["x-amzn-errortype"])).toMatch(/^UnknownOperationException/);
    expect(emulator.stats().calls).toBe(0);
  });
});

describe("Bedrock emulator: quota", () => {
  it("rpm: the call over the limit gets ThrottlingException and is not counted", async () => {
    emulator.setQuota({ rpm: 2 });
    await converse();
    await converse();
    const error = await converseError(client);
    expect(error.name).toBe("ThrottlingException");
    expect(error.$metadata.httpStatusCode).toBe(429);
    const raw = await h2("POST", `/model/${encodeURIComponent(MODEL)}/converse`, JSON.stringify(request()));
    expect(raw.status).toBe(429);
    // Bedrock sends no retry-after; the strict tests show the setting that sends one.
    expect(raw.headers["retry-after"]).toBeUndefined();
    const stats = emulator.stats();
    expect(stats).toMatchObject({ calls: 4, succeeded: 2, throttled: 2, errors: { ThrottlingException: 2 } });
  });

  it("tpm, with the quota-reservation rule lenient: counts input + output tokens of accepted calls", async () => {
    emulator.setLenient(["quota-reservation"]);
    const used = (await converse()).usage?.totalTokens ?? 0;
    emulator.reset();
    emulator.setQuota({ tpm: used * 2 + 1 });
    await converse();
    await converse();
    const error = await converseError(client);
    expect(error.name).toBe("ThrottlingException");
    expect(error.$metadata.httpStatusCode).toBe(429);
    expect(emulator.stats()).toMatchObject({ succeeded: 2, throttled: 1 });
    // reset clears the windows, so the quota has room again.
    emulator.reset();
    expect((await converse()).stopReason).toBe("end_turn");
  });
});

describe("Bedrock emulator: latency", () => {
  it("waits fixedMs + perOutputTokenMs * outputTokens before answering", async () => {
    emulator.setLatency({ fixedMs: 300, perOutputTokenMs: 1 });
    const started = performance.now();
    const out = await converse();
    const elapsed = performance.now() - started;
    const expected = 300 + (out.usage?.outputTokens ?? 0);
    expect(out.metrics?.latencyMs).toBe(expected);
    // Timers may fire a little early by the clock used here; allow for it downwards only.
    expect(elapsed).toBeGreaterThanOrEqual(expected - 50);
  });
});

describe("Bedrock emulator: stats and control endpoints over HTTP/2", () => {
  it("counts calls and tokens, overall and by model", async () => {
    const a = await converse();
    const b = await converse(request({ modelId: "amazon.nova-lite-v1:0" }));
    const stats = emulator.stats();
    const input = (a.usage?.inputTokens ?? 0) + (b.usage?.inputTokens ?? 0);
    const output = (a.usage?.outputTokens ?? 0) + (b.usage?.outputTokens ?? 0);
    expect(stats).toMatchObject({ calls: 2, succeeded: 2, throttled: 0, inputTokens: input, outputTokens: output, errors: {} });
    expect(stats.byModel[MODEL]).toEqual({ calls: 1, inputTokens: a.usage?.inputTokens, outputTokens: a.usage?.outputTokens });
    expect(stats.byModel["amazon.nova-lite-v1:0"]?.calls).toBe(1);
    emulator.resetStats();
    expect(emulator.stats().calls).toBe(0);
  });

  it("GET /_emulator/stats, PUT /_emulator/faults and POST /_emulator/reset", async () => {
    await converse();
    const stats = await h2("GET", "/_emulator/stats");
    expect(stats.status).toBe(200);
    expect(JSON.parse(stats.body)).toMatchObject({ calls: 1, succeeded: 1 });

    const put = await h2("PUT", "/_emulator/faults", JSON.stringify({ faults: [{ kind: "throttle", times: 1 }], unavailableModels: [NOVA] }));
    expect(put.status).toBe(200);
    expect((await converseError(client)).name).toBe("ThrottlingException");
    expect((await converseError(client, request({ modelId: NOVA }))).name).toBe("ServiceUnavailableException");

    const lenient = await h2("PUT", "/_emulator/faults", JSON.stringify({ lenient: ["unknown-model"], maxConcurrent: 0 }));
    expect(lenient.status).toBe(200);
    expect((await converse(request({ modelId: "some.other-model-v1:0" }))).stopReason).toBe("end_turn");

    const reset = await h2("POST", "/_emulator/reset");
    expect(reset.status).toBe(200);
    expect(JSON.parse((await h2("GET", "/_emulator/stats")).body)).toMatchObject({ calls: 0, errors: {} });

    const quota = await h2("PUT", "/_emulator/faults", JSON.stringify({ quota: { rpm: 1 }, latency: { fixedMs: 0, perOutputTokenMs: 0 } }));
    expect(quota.status).toBe(200);
    await converse();
    expect((await converseError(client)).name).toBe("ThrottlingException");
  });

  it("PUT /_emulator/faults answers 400 to a bad body and changes nothing", async () => {
    for (const body of ["{oops", JSON.stringify({ faults: [{ kind: "explode" }] }), JSON.stringify({ quota: { rpm: -1 } }), JSON.stringify({ surprise: true })]) {
      const res = await h2("PUT", "/_emulator/faults", body);
      expect(res.status).toBe(400);
      expect(typeof (JSON.parse(res.body) as { message: unknown }).message).toBe("string");
    }
    expect((await converse()).stopReason).toBe("end_turn");
  });
});

describe("Bedrock emulator: per-model behaviours", () => {
  const tool = { toolSpec: { name: "record_labels", inputSchema: { json: { type: "object" } } } };
  const choices = {
    none: undefined,
    auto: { auto: {} },
    any: { any: {} },
    tool: { tool: { name: "record_labels" } },
  } as const;
  const withTools = (modelId: string, choice: keyof typeof choices): ConverseCommandInput => {
    const toolChoice = choices[choice];
    return request({ modelId, toolConfig: toolChoice === undefined ? { tools: [tool] } : { tools: [tool], toolChoice } });
  };
  const cached = (modelId: string, system = SYSTEM): ConverseCommandInput =>
    request({ modelId, system: [{ text: system }, { cachePoint: { type: "default" } }] });

  it("Llama 3 70B refuses any toolConfig with ValidationException, not retried", async () => {
    const retrying = makeClient(3);
    try {
      for (const choice of ["none", "auto", "any", "tool"] as const) {
        const error = await converseError(retrying, withTools(MODEL, choice));
        expect(error.name, choice).toBe("ValidationException");
        expect(error.message).toBe("This model doesn't support tool use.");
        expect(error.$metadata.attempts).toBe(1);
      }
    } finally {
      retrying.destroy();
    }
    expect(emulator.stats()).toMatchObject({ calls: 4, succeeded: 0, errors: { ValidationException: 4 } });
  });

  it("Llama 3.3 takes tools but refuses a forced toolChoice (any or tool)", async () => {
    for (const choice of ["any", "tool"] as const) {
      const error = await converseError(client, withTools(LLAMA33, choice));
      expect(error.name).toBe("ValidationException");
      expect(error.message).toContain(`toolConfig.toolChoice.${choice}`);
    }
    for (const choice of ["none", "auto"] as const) {
      expect((await converse(withTools(LLAMA33, choice))).stopReason, choice).toBe("tool_use");
    }
  });

  it("Claude accepts every toolChoice and answers a forced one with stopReason tool_use", async () => {
    for (const choice of ["none", "auto", "any", "tool"] as const) {
      const out = await converse(withTools(CLAUDE, choice));
      expect(out.stopReason, choice).toBe("tool_use");
    }
  });

  it("Nova takes every toolChoice (auto, any and a named tool)", async () => {
    for (const choice of ["none", "auto", "any", "tool"] as const) expect((await converse(withTools(NOVA, choice))).stopReason, choice).toBe("tool_use");
  });

  it("answers with the tool toolChoice names, and refuses one that is not in the tools", async () => {
    const tools = [tool, { toolSpec: { name: "other_tool", inputSchema: { json: { type: "object" } } } }];
    const out = await converse(request({ modelId: CLAUDE, toolConfig: { tools: [...tools].reverse(), toolChoice: { tool: { name: "record_labels" } } } }));
    const block = out.output?.message?.content?.[0];
    expect(block && "toolUse" in block ? block.toolUse?.name : undefined).toBe("record_labels");
    const error = await converseError(client, request({ modelId: CLAUDE, toolConfig: { tools, toolChoice: { tool: { name: "missing" } } } }));
    expect(error.name).toBe("ValidationException");
  });

  it("unknown model ids, with the unknown-model rule lenient, take every toolChoice", async () => {
    emulator.setLenient(["unknown-model"]);
    for (const choice of ["none", "auto", "any", "tool"] as const) {
      expect((await converse(withTools("some.other-model-v1:0", choice))).stopReason, choice).toBe("tool_use");
    }
  });

  it("refuses a cachePoint on models without prompt caching (Llama, and unknown ids when they are allowed), anywhere in the request", async () => {
    emulator.setLenient(["unknown-model"]);
    for (const modelId of [MODEL, LLAMA33, "some.other-model-v1:0"]) {
      const error = await converseError(client, cached(modelId));
      expect(error.name, modelId).toBe("AccessDeniedException");
      expect(error.message).toContain("prompt caching");
    }
    const inMessages = request({ modelId: LLAMA33, messages: [{ role: "user", content: [{ text: USER }, { cachePoint: { type: "default" } }] }] });
    expect((await converseError(client, inMessages)).name).toBe("AccessDeniedException");
    // Without a cache point the same models answer, and usage has no cache fields.
    const plain = await converse(request({ modelId: LLAMA33 }));
    expect(plain.usage?.cacheReadInputTokens).toBeUndefined();
    expect(plain.usage?.cacheWriteInputTokens).toBeUndefined();
  });

  // The prompts here are shorter than the models' minimum cacheable prefix: the
  // cache-minimum rule is relaxed, the strict tests show the minimum itself.
  it("Claude: a system cachePoint is a cache write the first time, then a read; cached tokens are not in inputTokens", async () => {
    emulator.setLenient(["cache-minimum"]);
    const systemTokens = tokens(SYSTEM);
    const allTokens = tokens(SYSTEM) + tokens(USER);

    const first = await converse(cached(CLAUDE));
    expect(first.usage).toMatchObject({ cacheWriteInputTokens: systemTokens, cacheReadInputTokens: 0, inputTokens: allTokens - systemTokens });
    const second = await converse(cached(CLAUDE));
    expect(second.usage).toMatchObject({ cacheWriteInputTokens: 0, cacheReadInputTokens: systemTokens, inputTokens: allTokens - systemTokens });
    const out = second.usage?.outputTokens ?? 0;
    expect(second.usage?.totalTokens).toBe(allTokens + out);
    // The answer itself does not change.
    expect(textOf(second)).toBe(textOf(await converse(request({ modelId: CLAUDE }))));

    // The prefix is per model and per text: another model or another system prompt writes anew.
    expect((await converse(cached(SONNET))).usage?.cacheWriteInputTokens).toBe(systemTokens);
    expect((await converse(cached(CLAUDE, `${SYSTEM}\nBe terse.`))).usage?.cacheReadInputTokens).toBe(0);
    // Nova caches too.
    expect((await converse(cached(NOVA))).usage?.cacheWriteInputTokens).toBe(systemTokens);

    expect(emulator.stats()).toMatchObject({ cacheReadInputTokens: systemTokens });
    emulator.reset();
    expect((await converse(cached(CLAUDE))).usage?.cacheWriteInputTokens).toBe(systemTokens);
  });

  it("Claude: a call refused by the quota writes nothing to the cache", async () => {
    emulator.setLenient(["cache-minimum"]);
    emulator.setQuota({ rpm: 0 });
    expect((await converseError(client, cached(CLAUDE))).name).toBe("ThrottlingException");
    emulator.setQuota({});
    expect((await converse(cached(CLAUDE))).usage?.cacheWriteInputTokens).toBeGreaterThan(0);
  });

  it("Claude: the cache lives 5 minutes, counted again from each read", async () => {
    let now = 1_000_000;
    const timed = await startBedrockEmulator({ port: 0, clock: () => now, lenient: ["cache-minimum"] });
    const timedClient = emulatorClient(timed.url, 1);
    const usage = async () => (await timedClient.send(new ConverseCommand(cached(CLAUDE)))).usage;
    try {
      expect((await usage())?.cacheWriteInputTokens).toBeGreaterThan(0);
      now += 4 * 60_000;
      expect((await usage())?.cacheReadInputTokens).toBeGreaterThan(0);
      now += 4 * 60_000; // 8 minutes after the write, 4 after the read
      expect((await usage())?.cacheReadInputTokens).toBeGreaterThan(0);
      now += 5 * 60_000 + 1;
      expect((await usage())?.cacheWriteInputTokens).toBeGreaterThan(0);
    } finally {
      timedClient.destroy();
      await timed.close();
    }
  });
});
