import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { conversationRecord, fitRecords, linesAnswer, recordTokens } from "../../src/app/distill/training-record.ts";
import { reservedWordsIn, studentLimits } from "../../src/app/distill/students.ts";
import { parseLineOutput } from "../../src/core/models/parse-line-output.ts";
import { forFormat, PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { renderUserMessage } from "../../src/core/prompts/render-prompt.ts";
import { teacherItems } from "../support/distill-fixtures.ts";
import { PROMPTS_DIR } from "../support/fakes.ts";

/**
 * A `bedrock-conversation-2024` record as AWS documents it for fine-tuning and distillation
 * (docs/distill.md cites the pages): `schemaVersion`, an optional `system` list of text blocks,
 * and `messages` whose first turn is the user's and last the assistant's, roles alternating,
 * each with a list of text blocks. Llama students take single-turn records: one user turn, one
 * assistant turn.
 */
const textBlock = z.strictObject({ text: z.string().min(1) });
const documentedRecord = z
  .strictObject({
    schemaVersion: z.literal("bedrock-conversation-2024"),
    system: z.array(textBlock).optional(),
    messages: z.array(z.strictObject({ role: z.enum(["user", "assistant"]), content: z.array(textBlock).min(1) })).min(2),
  })
  .refine((r) => r.messages.every((m, k) => m.role === (k % 2 === 0 ? "user" : "assistant")), "roles alternate, the user first")
  .refine((r) => r.messages.at(-1)?.role === "assistant", "the last turn is the assistant's");
const singleTurnRecord = documentedRecord.refine((r) => r.messages.length === 2, "Llama students take single-turn records");

let prompt: ResolvedPrompt;

beforeAll(async () => {
  prompt = forFormat(await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "v2"), "lines");
});

describe("conversationRecord", () => {
  it("is a single-turn bedrock-conversation-2024 record as the AWS pages document it", () => {
    const record = conversationRecord(prompt.system, prompt.taxonomy, teacherItems(prompt, 3));
    expect(singleTurnRecord.safeParse(JSON.parse(JSON.stringify(record))).success).toBe(true);
    // The schema can fail: a record without the assistant's turn is refused.
    expect(singleTurnRecord.safeParse({ ...record, messages: [record.messages[0]] }).success).toBe(false);
    expect(documentedRecord.safeParse({ ...record, schemaVersion: "bedrock-conversation-2023" }).success).toBe(false);
  });

  it("holds the system prompt and the user turn labelq sends a lines-format model for those texts", () => {
    const items = teacherItems(prompt, 4);
    const record = conversationRecord(prompt.system, prompt.taxonomy, items);
    expect(record.system).toEqual([{ text: prompt.system }]);
    expect(prompt.system).toContain("## Output format");
    expect(record.messages[0].content).toEqual([{ text: renderUserMessage(items.map((i) => i.text), "lines") }]);
  });

  it("answers in the lines format: labelq reads the answer back to the teacher's labels", () => {
    const items = teacherItems(prompt, 5);
    const answer = linesAnswer(prompt.taxonomy, items);
    expect(answer.split("\n")).toHaveLength(5);
    expect(answer.split("\n")[0]).toMatch(/^1 /);
    const parsed = parseLineOutput(answer, "end_turn", prompt.taxonomy.dimensions);
    expect(parsed.problem).toBeUndefined();
    expect(parsed.items).toHaveLength(5);
    parsed.items.forEach((raw, k) => {
      const { i, ...fields } = raw as Record<string, unknown>;
      expect(i).toBe(k + 1);
      expect(prompt.codec.decode(fields)).toEqual({ ok: true, labels: items[k]!.labels });
    });
  });
});

describe("fitRecords", () => {
  const tokenizer = { kind: "llama3" } as const;

  it("keeps a group within the token limit in one record, and counts its tokens with the template's", () => {
    const items = teacherItems(prompt, 4);
    const one = recordTokens(conversationRecord(prompt.system, prompt.taxonomy, items), tokenizer);
    const fitted = fitRecords(prompt.system, prompt.taxonomy, items, tokenizer, one);
    expect(fitted).toMatchObject({ splits: 0, dropped: [] });
    expect(fitted.records.map((r) => r.tokens)).toEqual([one]);
  });

  it("cuts a record over the limit in halves, and drops a text still over it alone", () => {
    const items = teacherItems(prompt, 4, (k) => (k === 4 ? `a long review ${"with many words ".repeat(120)}` : `short review ${k}`));
    const single = recordTokens(conversationRecord(prompt.system, prompt.taxonomy, items.slice(0, 1)), tokenizer);
    const long = recordTokens(conversationRecord(prompt.system, prompt.taxonomy, items.slice(3)), tokenizer);
    // Room for two short texts, not three, and never for the long one.
    const pair = recordTokens(conversationRecord(prompt.system, prompt.taxonomy, items.slice(0, 2)), tokenizer);
    expect(long).toBeGreaterThan(pair);
    const fitted = fitRecords(prompt.system, prompt.taxonomy, items, tokenizer, pair);
    // 4 -> 2 + 2; the second pair is over (the long text) -> 1 + 1, the long one dropped.
    expect(fitted.splits).toBe(2);
    expect(fitted.dropped.map((d) => d.id)).toEqual(["r-4"]);
    expect(fitted.records.map((r) => r.texts.map((t) => t.id))).toEqual([["r-1", "r-2"], ["r-3"]]);
    expect(fitted.records.every((r) => r.tokens <= pair)).toBe(true);
    expect(single).toBeLessThan(pair);
  });
});

describe("student limits", () => {
  it("takes the documented figures: Llama 3.x 10,000 records of 16,000 tokens, Nova 20,000, distillation 15,000", () => {
    expect(studentLimits("llama3", "fine-tuning")).toMatchObject({ maxRecords: 10_000, minRecords: 100, maxRecordTokens: 16_000, maxTrainingFileBytes: 1e9, maxValidationFileBytes: 1e8 });
    expect(studentLimits("nova", "fine-tuning")).toMatchObject({ maxRecords: 20_000, minRecords: 8 });
    expect(studentLimits("nova", "distillation").maxRecords).toBe(15_000);
    expect(studentLimits("llama3", "fine-tuning", { maxRecords: 50, maxRecordTokens: 9_000 })).toMatchObject({ maxRecords: 50, maxRecordTokens: 9_000 });
  });

  it("finds Nova's reserved words whatever their case", () => {
    const { reservedWords } = studentLimits("nova", "fine-tuning");
    expect(reservedWordsIn("the bot said USER: hello", reservedWords)).toEqual(["User:"]);
    expect(reservedWordsIn("a plain review", reservedWords)).toEqual([]);
    expect(studentLimits("llama3", "fine-tuning").reservedWords).toEqual([]);
  });
});
