import { beforeAll, describe, expect, it } from "vitest";
import { planCall } from "../../src/core/classify/call-model.ts";
import { inputFileName, packFiles } from "../../src/app/bulk/jsonl-files.ts";
import { chunkSizesFor, planBatchRecords, recordIdAt, recordKeyOf } from "../../src/app/bulk/plan-records.ts";
import { readManifest, readOutputFile } from "../../src/app/bulk/read-output.ts";
import { batchRecordBody } from "../../src/adapters/bedrock/bedrock-provider.ts";
import { findModel } from "../../src/core/models/model-registry.ts";
import { resolveInference } from "../../src/core/models/sampling.ts";
import { PromptRegistry, type ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { PROMPTS_DIR } from "../support/fakes.ts";

let prompt: ResolvedPrompt;
beforeAll(async () => {
  prompt = await new PromptRegistry(PROMPTS_DIR).resolve("product-feedback", "prod");
});

const items = Array.from({ length: 45 }, (_, k) => ({ id: `t${k + 1}`, text: `text number ${k + 1}` }));

describe("batch inference records", () => {
  it("are the exact live request per chunk, as a Converse body, under record ids numbered from the batch's first record in its job", () => {
    const model = findModel("llama3.3-70b")!;
    const choice = { model, inference: resolveInference(prompt, model) };
    // In the lines format Llama 3.3's 2,048-token output cap answers the 45 texts in one call, as live;
    // a chunk size of 20 cuts them as evenly as live does.
    expect(chunkSizesFor(items, prompt, choice, 50)).toEqual([45]);
    const sizes = chunkSizesFor(items, prompt, choice, 20);
    expect(sizes).toEqual([15, 15, 15]);
    const records = planBatchRecords("b-1", items, sizes, prompt, choice, 35);
    expect(records.map((r) => r.recordId)).toEqual(["0000000000Z", "00000000010", "00000000011"]);
    expect(records.map((r) => r.key)).toEqual(["b-1#t1#0", "b-1#t16#1", "b-1#t31#2"]);
    const line = JSON.parse(records[2]!.line) as { recordId: string; modelInput: Record<string, unknown> };
    const live = planCall(items.slice(30).map((it) => it.text), prompt, choice).request;
    expect(line).toEqual({ recordId: "00000000011", modelInput: batchRecordBody(live) });
    expect(records[2]!.bytes).toBe(Buffer.byteLength(records[2]!.line) + 1);
    expect(line.modelInput).toMatchObject({ messages: [{ role: "user", content: [{ text: live.user }] }], inferenceConfig: { maxTokens: live.inference.maxTokens } });
    expect(line.modelInput).not.toHaveProperty("modelId");
  });

  it("leave out the forced answer tool and the cache point, which batch inference's Converse jobs refuse or do not document", () => {
    // Claude answering in JSON (a catalogue override) is sent a forced tool live.
    const model = { ...findModel("claude-haiku")!, outputFormat: "json" as const };
    const choice = { model, inference: resolveInference(prompt, model) };
    const { request } = planCall(["one text"], prompt, choice);
    expect(request.structuredOutput).toBeDefined();
    const body = batchRecordBody(request);
    expect(body).not.toHaveProperty("toolConfig");
    expect(JSON.stringify(body)).not.toContain("cachePoint");
  });

  it("are packed into files within the records and bytes per file", () => {
    const lines = Array.from({ length: 7 }, (_, k) => `{"recordId":"r${k}"}`);
    expect(packFiles(lines, { maxRecordsPerFile: 3, maxFileBytes: 1_000 }).map((f) => f.length)).toEqual([3, 3, 1]);
    expect(packFiles(lines, { maxRecordsPerFile: 100, maxFileBytes: 40 }).map((f) => f.length)).toEqual([2, 2, 2, 1]);
    expect(inputFileName(3)).toBe("records-0003.jsonl");
    expect(recordKeyOf("a.b:c", "x", 0)).toBe("a.b:c#x#0");
  });
});

describe("record ids", () => {
  it("are 11 alphanumeric characters, the record's number in its job in base 36, distinct for every number", () => {
    expect(recordIdAt(0)).toBe("00000000000");
    expect(recordIdAt(10)).toBe("0000000000A");
    expect(recordIdAt(1_000_000)).toBe("0000000LFLS");
    const ids = Array.from({ length: 50_000 }, (_, n) => recordIdAt(n));
    expect(new Set(ids).size).toBe(50_000);
    for (const id of [ids[0], ids[49_999], recordIdAt(Number.MAX_SAFE_INTEGER)]) expect(id).toMatch(/^[A-Za-z0-9]{1,11}$/);
    expect(() => recordIdAt(-1)).toThrow(RangeError);
    expect(() => recordIdAt(1.5)).toThrow(RangeError);
  });

  it("keep every line of a batch the same size whatever the batch's place in its job", () => {
    const model = findModel("llama3.3-70b")!;
    const choice = { model, inference: resolveInference(prompt, model) };
    const first = planBatchRecords("b-1", items, [45], prompt, choice, 0);
    const later = planBatchRecords("b-1", items, [45], prompt, choice, 987_654);
    expect(later.map((r) => r.bytes)).toEqual(first.map((r) => r.bytes));
  });
});

describe("readOutputFile (output already in memory)", () => {
  const answer = (text: string) => ({ output: { message: { role: "assistant", content: [{ text }] } }, stopReason: "end_turn", usage: { inputTokens: 10, outputTokens: 5 } });
  it("reads answers and per-record errors in any order, counting malformed lines", () => {
    const text = [
      JSON.stringify({ recordId: "r2", modelInput: {}, modelOutput: answer("two") }),
      '{"recordId":"r3","modelInput":{},"modelOut',
      JSON.stringify({ recordId: "r1", modelInput: {}, error: { errorCode: 400, errorMessage: "bad request" } }),
      JSON.stringify({ modelInput: {}, modelOutput: answer("no id") }),
      "",
    ].join("\n");
    const read = readOutputFile(text);
    expect(read.malformedLines).toBe(2);
    expect(read.records.get("r2")).toEqual({ kind: "answer", response: { text: "two", stopReason: "end_turn", usage: { inputTokens: 10, outputTokens: 5 } } });
    expect(read.records.get("r1")).toEqual({ kind: "error", message: "batch inference error 400: bad request" });
    expect(read.records.has("r3")).toBe(false);
  });

  it("reads the manifest's counts", () => {
    expect(readManifest('{"totalRecordCount":3,"successRecordCount":2,"errorRecordCount":1,"x":"y"}')).toEqual({ totalRecordCount: 3, successRecordCount: 2, errorRecordCount: 1 });
    expect(readManifest("not json")).toBeUndefined();
  });
});
