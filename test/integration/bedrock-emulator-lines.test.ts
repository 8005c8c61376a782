import { ConverseCommand, type ConverseCommandOutput } from "@aws-sdk/client-bedrock-runtime";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseLineOutput } from "../../src/core/models/parse-line-output.ts";
import { startBedrockEmulator, type BedrockEmulator, type FaultKind } from "@labelq/bedrock-emulator";
import { forFormat, PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { renderUserMessage } from "../../src/core/prompts/render-prompt.ts";
import { emulatorClient } from "../support/emulator-client.ts";
import { PROMPTS_DIR } from "../support/fakes.ts";

// The Bedrock emulator (test double, simulated model) answering labelq's lines-format prompt,
// over the wire with the real SDK client; its answers are read with labelq's own parser.

const LLAMA33 = "us.meta.llama3-3-70b-instruct-v1:0";
const TEXTS = [
  "I love this kettle, excellent value for the price.",
  "Broken after two days, I want a refund. Worst purchase ever.",
  "Oh great, another charger that dies after a week. Yeah right, 'premium quality'.",
  "Das Paket kam pünktlich an, die Verpackung ist ok.",
  "Does the blender come with a spare lid?",
];

let emulator: BedrockEmulator;
let prompt: ResolvedPrompt;

beforeAll(async () => {
  emulator = await startBedrockEmulator({ port: 0, latency: { fixedMs: 0, perOutputTokenMs: 0 } });
  prompt = forFormat(await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v1"), "lines");
});
afterAll(() => emulator.close());
beforeEach(() => {
  emulator.setFaults([]);
  emulator.reset();
});

async function converse(): Promise<{ text: string; stopReason: string; out: ConverseCommandOutput }> {
  const client = emulatorClient(emulator.url, 1);
  try {
    const out = await client.send(
      new ConverseCommand({
        modelId: LLAMA33,
        system: [{ text: prompt.system }],
        messages: [{ role: "user", content: [{ text: renderUserMessage(TEXTS, "lines") }] }],
        inferenceConfig: { maxTokens: 1000 },
      }),
    );
    const block = out.output?.message?.content?.[0];
    const text = block && "text" in block && typeof block.text === "string" ? block.text : "";
    return { text, stopReason: out.stopReason ?? "", out };
  } finally {
    client.destroy();
  }
}

/** Text numbers whose lines labelq reads into labels that validate. */
function validNumbers(text: string, stopReason: string): number[] {
  const parsed = parseLineOutput(text, stopReason, prompt.taxonomy.dimensions);
  return parsed.items
    .map((item) => {
      const { i, ...rest } = item as { i: number };
      return prompt.codec.decode(rest).ok ? i : undefined;
    })
    .filter((i): i is number => i !== undefined)
    .sort((a, b) => a - b);
}

const ALL = TEXTS.map((_, k) => k + 1);

describe("Bedrock emulator: the lines format", () => {
  let clean: string;
  beforeAll(async () => {
    emulator.setFaults([]);
    clean = (await converse()).text;
  });

  it("answers one line per text, numbered, with a valid field for every dimension", () => {
    const lines = clean.split("\n");
    expect(lines.map((l) => Number(l.split(" ")[0]))).toEqual(ALL);
    for (const line of lines) expect(line.split(" ")).toHaveLength(prompt.taxonomy.dimensions.length + 1);
    expect(validNumbers(clean, "end_turn")).toEqual(ALL);
  });

  it("reads the texts from `<number>: <JSON string>` lines, so labels follow the text", async () => {
    // The same request twice gives the same answer (the simulated model is deterministic per text).
    expect((await converse()).text).toBe(clean);
  });

  const cases: Partial<Record<FaultKind, (a: { text: string; stopReason: string }) => void>> = {
    "missing-field": ({ text }) => {
      const short = text.split("\n").filter((l) => l.split(" ").length === prompt.taxonomy.dimensions.length);
      expect(short).toHaveLength(1);
      const rejected = parseLineOutput(text, "end_turn", prompt.taxonomy.dimensions).rejected ?? [];
      expect(rejected).toHaveLength(1);
      expect(validNumbers(text, "end_turn")).toHaveLength(ALL.length - 1);
    },
    "broken-line": ({ text }) => {
      expect(text.split("\n")).toHaveLength(ALL.length + 1);
      expect(validNumbers(text, "end_turn").length).toBeLessThan(ALL.length);
    },
    "extra-separator": ({ text }) => {
      expect(text).not.toBe(clean);
      expect(text).toMatch(/ {2}|\t/);
      expect(validNumbers(text, "end_turn")).toEqual(ALL);
    },
    prose: ({ text }) => {
      expect(text).toBe(`Here are the labels:\n${clean}\nLet me know if you need more.`);
      expect(validNumbers(text, "end_turn")).toEqual(ALL);
    },
    "code-fence": ({ text }) => expect(validNumbers(text, "end_turn")).toEqual(ALL),
    truncate: ({ text, stopReason }) => {
      expect(stopReason).toBe("max_tokens");
      expect(clean.startsWith(text)).toBe(true);
      // The last line may be cut: labelq never trusts it.
      expect(validNumbers(text, stopReason).length).toBeLessThan(ALL.length);
    },
    "missing-ids": ({ text }) => expect(validNumbers(text, "end_turn").length).toBeLessThan(ALL.length),
    "extra-ids": ({ text }) => expect(text.split("\n").map((l) => Number(l.split(" ")[0]))).toEqual([...ALL, 6, 999]),
    "invalid-labels": ({ text }) => expect(validNumbers(text, "end_turn").length).toBeLessThan(ALL.length),
    empty: ({ text }) => expect(text).toBe(""),
  };

  for (const [kind, check] of Object.entries(cases) as [FaultKind, (a: { text: string; stopReason: string }) => void][]) {
    it(`${kind}: damages a lines answer, once when times is 1`, async () => {
      emulator.setFaults([{ kind, times: 1 }]);
      check(await converse());
      expect((await converse()).text).toBe(clean);
      expect(emulator.stats().faultsInjected).toEqual({ [kind]: 1 });
    });
  }

  it("leaves a lines answer alone under the JSON-only faults, and does not count them", async () => {
    emulator.setFaults([{ kind: "trailing-comma", times: 1 }, { kind: "missing-bracket", times: 1 }]);
    expect((await converse()).text).toBe(clean);
    expect(emulator.stats().faultsInjected).toEqual({});
  });
});
