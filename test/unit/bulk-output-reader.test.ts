import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { JobRecord } from "../../src/core/bulk/bulk-store.ts";
import { recordMapBody, recordMapLine } from "../../src/app/bulk/jsonl-files.ts";
import { recordIdAt, recordKeyOf } from "../../src/app/bulk/plan-records.ts";
import { linesOf, readJobOutput, readOutputLines, readRecordMap } from "../../src/app/bulk/read-output.ts";
import { FakeObjectStore } from "../support/bulk-fakes.ts";
import { silentLogger } from "../support/fakes.ts";

// Reading a job's output a line at a time, its record ids mapped back through the job's record map.

const answer = (text: string) => ({ output: { message: { role: "assistant", content: [{ text }] } }, stopReason: "end_turn", usage: { inputTokens: 10, outputTokens: 5 } });
const line = (recordId: string, text: string) => JSON.stringify({ recordId, modelInput: { messages: [{ role: "user", content: [{ text: "…" }] }] }, modelOutput: answer(text) });

const JOB: JobRecord = {
  jobKey: "20261125T101500Z-3f9a1c",
  model: "llama3.3-70b",
  modelId: "us.meta.llama3-3-70b-instruct-v1:0",
  state: "collecting",
  version: 5,
  clientRequestToken: "token",
  jobName: "labelq-20261125T101500Z-3f9a1c",
  jobArn: "arn:aws:bedrock:us-east-1:000000000000:model-invocation-job/abcdefghijkl",
  inputPrefix: "lq/jobs/j/input/a1/",
  outputPrefix: "lq/jobs/j/output/",
  files: ["lq/jobs/j/input/a1/records-0001.jsonl"],
  recordMap: "lq/jobs/j/input/a1.record-map.jsonl.gz",
  records: 3,
  batches: 2,
  createdAt: "2026-11-25T10:15:00.000Z",
  updatedAt: "2026-11-25T10:15:00.000Z",
};
const OUT = "lq/jobs/j/output/abcdefghijkl/";

async function withMap(objects: FakeObjectStore): Promise<void> {
  const entries = [
    { recordId: recordIdAt(0), batchId: "b-1", chunk: 0, textIds: ["t1", "t2"] },
    { recordId: recordIdAt(1), batchId: "b-1", chunk: 1, textIds: ["t3"] },
    { recordId: recordIdAt(2), batchId: "b.2:x", chunk: 0, textIds: ["r-9"] },
  ];
  await objects.put(JOB.recordMap!, recordMapBody(entries.map(recordMapLine)));
}

describe("linesOf", () => {
  it("yields each line of a stream whose chunks cut lines, CRLF ends and multi-byte characters in two", async () => {
    const text = 'first 日本語のテキスト\r\nsecond 👍🏽 emoji\n\nthird without newline';
    const bytes = Buffer.from(text, "utf8");
    // One byte per chunk: every multi-byte character is split across chunks.
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    const lines: string[] = [];
    for await (const l of linesOf(Readable.from(chunks), "test")) lines.push(l);
    expect(lines).toEqual(["first 日本語のテキスト", "second 👍🏽 emoji", "", "third without newline"]);
  });

  it("turns a stream that fails mid-way into a retryable StoreError", async () => {
    const failing = new Readable({
      read() {
        this.push("a line\n");
        this.destroy(new Error("socket hang up"));
      },
    });
    await expect(readOutputLines(linesOf(failing, "s3://b/out"))).rejects.toMatchObject({ code: "STORE_UNAVAILABLE", retryable: true, message: expect.stringContaining("socket hang up") as unknown });
  });
});

describe("readRecordMap", () => {
  it("reads the gzipped record map back into record id -> record key", async () => {
    const objects = new FakeObjectStore();
    objects.chunkBytes = 7;
    await withMap(objects);
    expect(await readRecordMap(objects, JOB.recordMap!)).toEqual(
      new Map([
        ["00000000000", recordKeyOf("b-1", "t1", 0)],
        ["00000000001", recordKeyOf("b-1", "t3", 1)],
        ["00000000002", recordKeyOf("b.2:x", "r-9", 0)],
      ]),
    );
    expect(await readRecordMap(objects, "lq/none.jsonl.gz")).toBeUndefined();
  });
});

describe("readJobOutput", () => {
  it("reads every output file a line at a time and files each record under its record key through the record map", async () => {
    const objects = new FakeObjectStore();
    objects.chunkBytes = 13;
    await withMap(objects);
    await objects.put(`${OUT}records-0001.jsonl.out`, [line("00000000002", "two"), "{\"recordId\":\"00000000000\",\"modelInput\":{},\"modelOut", line("00000000001", "one")].join("\n"));
    await objects.put(`${OUT}records-0002.jsonl.out`, `${line("00000000000", "zero")}\n${line("ZZZZZZZZZZZ", "a record the job does not have")}\n`);
    await objects.put(`${OUT}manifest.json.out`, '{"totalRecordCount":3}');
    const read = await readJobOutput({ objects, logger: silentLogger() }, JOB);
    expect([...read.records.keys()].sort()).toEqual(["b-1#t1#0", "b-1#t3#1", "b.2:x#r-9#0"]);
    expect(read.records.get("b-1#t1#0")).toMatchObject({ kind: "answer", response: { text: "zero" } });
    expect(read.records.get("b.2:x#r-9#0")).toMatchObject({ kind: "answer", response: { text: "two" } });
    // The cut line and the line whose record id is not in the map.
    expect(read.malformedLines).toBe(2);
  });

  it("reads the output of a job assembled before record ids were numbered (no record map) by its ids as keys", async () => {
    const objects = new FakeObjectStore();
    await objects.put(`${OUT}records-0001.jsonl.out`, `${line("b-1#t1#0", "old")}\n`);
    const read = await readJobOutput({ objects, logger: silentLogger() }, { ...JOB, recordMap: undefined });
    expect(read.records.get("b-1#t1#0")).toMatchObject({ kind: "answer", response: { text: "old" } });
  });

  it("matches no line when the record map is gone, so the job's texts are re-asked rather than given another record's labels", async () => {
    const objects = new FakeObjectStore();
    await objects.put(`${OUT}records-0001.jsonl.out`, `${line("00000000000", "zero")}\n`);
    const read = await readJobOutput({ objects, logger: silentLogger() }, JOB);
    expect(read.records.size).toBe(0);
    expect(read.malformedLines).toBe(1);
  });

  it("reads nothing for a job that was never submitted", async () => {
    const read = await readJobOutput({ objects: new FakeObjectStore(), logger: silentLogger() }, { ...JOB, jobArn: undefined });
    expect(read).toEqual({ records: new Map(), malformedLines: 0 });
  });
});
