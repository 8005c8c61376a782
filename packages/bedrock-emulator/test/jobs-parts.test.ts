import { describe, expect, it } from "vitest";
import { parseInputFiles, selectInputObjects } from "../src/jobs/input-records.ts";
import { parseCreateJobBody, parseJobIdentifier, parseListQuery } from "../src/jobs/job-request.ts";
import { jobQuotasSchema } from "../src/jobs/job-settings.ts";
import { renderOutputFile, type OutputLine } from "../src/jobs/record-processor.ts";
import { outputKey } from "../src/jobs/s3-io.ts";
import { seededRandom } from "../src/random.ts";

// The pure parts of the Bedrock emulator's model invocation jobs (a test double): request
// validation, input checks and output rendering. The over-the-wire behaviour is in
// test/integration/bedrock-jobs-emulator.test.ts.

const quotas = jobQuotasSchema.parse({});
const line = (id: string) => JSON.stringify({ recordId: id, modelInput: { messages: [{ role: "user", content: [{ text: "hi" }] }] } });
const lines = (n: number, from = 0) => Array.from({ length: n }, (_, k) => line(`r${from + k}`)).join("\n");

describe("batch job quotas (defaults)", () => {
  it("are Bedrock's: 100 records minimum, 50,000 per file, 1 GB per file, 5 GB per job, 20 jobs per model", () => {
    expect(quotas).toEqual({ minRecordsPerJob: 100, maxRecordsPerFile: 50_000, maxFileBytes: 1_000_000_000, maxJobBytes: 5_000_000_000, maxJobsPerModel: 20 });
  });
});

describe("parseInputFiles", () => {
  it("counts records across files against the minimum per job, skipping blank lines and CRLF ends", () => {
    const ok = parseInputFiles([{ key: "in/a.jsonl", text: `${lines(50)}\r\n\n` }, { key: "in/sub/b.jsonl", text: lines(50, 50) }], quotas, seededRandom(1));
    expect(ok).toMatchObject({ ok: true, totalRecords: 100 });
    expect(ok.ok && ok.files.map((f) => [f.name, f.records.length])).toEqual([
      ["a.jsonl", 50],
      ["b.jsonl", 50],
    ]);
    expect(parseInputFiles([{ key: "in/a.jsonl", text: lines(99) }], quotas, seededRandom(1))).toEqual({
      ok: false,
      message: expect.stringMatching(/99 records, below the minimum of 100/) as unknown,
    });
  });

  it("fails on a line that is not JSON or has no modelInput object, naming the line", () => {
    const bad = `${lines(2)}\nnot json\n${lines(100)}`;
    expect(parseInputFiles([{ key: "k.jsonl", text: bad }], quotas, seededRandom(1))).toMatchObject({ ok: false, message: expect.stringMatching(/^Line 3 of the input file k\.jsonl is not valid JSON/) as unknown });
    const noInput = `${lines(2)}\n{"recordId":"x","modelInput":"text"}`;
    expect(parseInputFiles([{ key: "k.jsonl", text: noInput }], quotas, seededRandom(1))).toMatchObject({ ok: false, message: expect.stringMatching(/Line 3 .* no modelInput object/) as unknown });
  });

  it("gives a record without recordId an 11-character alphanumeric id, the same for the same seed", () => {
    const text = `${lines(99)}\n{"modelInput":{"messages":[]}}`;
    const a = parseInputFiles([{ key: "k.jsonl", text }], quotas, seededRandom(3));
    const b = parseInputFiles([{ key: "k.jsonl", text }], quotas, seededRandom(3));
    const id = a.ok ? a.files[0]?.records[99]?.recordId : undefined;
    expect(id).toMatch(/^[A-Z0-9]{11}$/);
    expect(b.ok && b.files[0]?.records[99]?.recordId).toBe(id);
  });

  it("takes recordIds of 1 to 11 alphanumeric characters and fails the job on any other, naming the line (docs: batch-inference-data)", () => {
    const withId = (id: string) => `${lines(99)}\n${line(id)}`;
    for (const id of ["CALL0000001", "3223593EFGH", "a", "0000000000Z"]) {
      expect(parseInputFiles([{ key: "k.jsonl", text: withId(id) }], quotas, seededRandom(1)), id).toMatchObject({ ok: true, totalRecords: 100 });
    }
    for (const id of ["b-1#t1#0", "CALL00000012", "with space", "ünïcode", "", "a_b"]) {
      expect(parseInputFiles([{ key: "k.jsonl", text: withId(id) }], quotas, seededRandom(1)), id).toEqual({
        ok: false,
        message: expect.stringMatching(/^Line 100 of the input file k\.jsonl has the recordId .*: a recordId must be an alphanumeric string of at most 11 characters\.$/) as unknown,
      });
    }
  });

  it("fails a file above the records-per-file quota", () => {
    expect(parseInputFiles([{ key: "k.jsonl", text: lines(101) }], { ...quotas, maxRecordsPerFile: 100 }, seededRandom(1))).toMatchObject({
      ok: false,
      message: expect.stringMatching(/101 records, above the quota of 100 records per input file/) as unknown,
    });
  });
});

describe("selectInputObjects", () => {
  const listed = [
    { key: "in/run/a.jsonl", size: 10 },
    { key: "in/run/nested/b.jsonl", size: 20 },
    { key: "in/run/notes.txt", size: 5 },
    { key: "in/running/c.jsonl", size: 30 },
  ];
  it("takes every .jsonl under a prefix, nested ones included, and nothing from a sibling prefix", () => {
    expect(selectInputObjects(listed, "in/run", quotas)).toEqual({ objects: [listed[0], listed[1]] });
    expect(selectInputObjects(listed, "in/run/", quotas)).toEqual({ objects: [listed[0], listed[1]] });
  });
  it("takes the one object a key names, and refuses one that is not .jsonl", () => {
    expect(selectInputObjects(listed, "in/run/a.jsonl", quotas)).toEqual({ objects: [listed[0]] });
    expect(selectInputObjects(listed, "in/run/notes.txt", quotas)).toMatchObject({ message: expect.stringMatching(/not a \.jsonl file/) as unknown });
  });
  it("applies the file and job size quotas", () => {
    expect(selectInputObjects(listed, "in/run/", { ...quotas, maxFileBytes: 15 })).toMatchObject({ message: expect.stringMatching(/in\/run\/nested\/b\.jsonl is 20 bytes/) as unknown });
    expect(selectInputObjects(listed, "in/run/", { ...quotas, maxJobBytes: 29 })).toMatchObject({ message: expect.stringMatching(/total 30 bytes/) as unknown });
  });
});

describe("renderOutputFile", () => {
  const outputs: OutputLine[] = Array.from({ length: 20 }, (_, k) => ({ recordId: `r${k}`, modelInput: {}, modelOutput: { k } }));
  it("writes every line once, in an order other than the input's, the same for the same seed", () => {
    const text = renderOutputFile(outputs, seededRandom(5));
    const ids = text.trim().split("\n").map((l) => (JSON.parse(l) as OutputLine).recordId);
    expect([...ids].sort()).toEqual(outputs.map((o) => o.recordId).sort());
    expect(ids).not.toEqual(outputs.map((o) => o.recordId));
    expect(renderOutputFile(outputs, seededRandom(5))).toBe(text);
  });
  it("cuts malformedLines lines mid-JSON and leaves missingRecords out", () => {
    const text = renderOutputFile(outputs, seededRandom(5), { malformedLines: 3, missingRecords: 4 });
    const rows = text.trim().split("\n");
    expect(rows).toHaveLength(16);
    const bad = rows.filter((r) => {
      try {
        JSON.parse(r);
        return false;
      } catch {
        return true;
      }
    });
    expect(bad).toHaveLength(3);
  });
});

describe("outputKey", () => {
  it("puts output under <output prefix>/<jobId>/", () => {
    expect(outputKey({ uri: "", bucket: "b", key: "out/" }, "abc123def456", "a.jsonl.out")).toBe("out/abc123def456/a.jsonl.out");
    expect(outputKey({ uri: "", bucket: "b", key: "" }, "abc123def456", "manifest.json.out")).toBe("abc123def456/manifest.json.out");
  });
});

describe("parseCreateJobBody", () => {
  const body = {
    jobName: "labelq-bulk-1",
    roleArn: "arn:aws:iam::123456789012:role/batch",
    modelId: "us.meta.llama3-3-70b-instruct-v1:0",
    inputDataConfig: { s3InputDataConfig: { s3Uri: "s3://bucket/in/run-1/" } },
    outputDataConfig: { s3OutputDataConfig: { s3Uri: "s3://bucket/out" } },
    modelInvocationType: "Converse",
  };
  it("accepts a valid body, defaulting timeoutDurationInHours to 24 and splitting the S3 locations", () => {
    expect(parseCreateJobBody(JSON.stringify(body))).toMatchObject({
      timeoutDurationInHours: 24,
      input: { bucket: "bucket", key: "in/run-1/" },
      output: { bucket: "bucket", key: "out" },
      clientRequestToken: undefined,
    });
  });
  it("lists every failed constraint in one ValidationException, as the service does", () => {
    const error = parseCreateJobBody(JSON.stringify({ ...body, jobName: "-x", timeoutDurationInHours: 200, roleArn: undefined }));
    expect(error).toMatchObject({ error: "ValidationException", message: expect.stringMatching(/^3 validation errors detected: /) as unknown });
  });
  it("refuses a 64-character job name and an s3Uri with an upper-case bucket", () => {
    expect(parseCreateJobBody(JSON.stringify({ ...body, jobName: "a".repeat(64) }))).toMatchObject({ message: expect.stringMatching(/length between 1 and 63/) as unknown });
    expect(parseCreateJobBody(JSON.stringify({ ...body, inputDataConfig: { s3InputDataConfig: { s3Uri: "s3://Bucket/in" } } }))).toMatchObject({ error: "ValidationException" });
  });
});

describe("parseJobIdentifier and parseListQuery", () => {
  it("takes a job ARN or its 12-character id", () => {
    expect(parseJobIdentifier("arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abc123def456")).toBe("abc123def456");
    expect(parseJobIdentifier("abc123def456")).toBe("abc123def456");
    expect(parseJobIdentifier("abc")).toMatchObject({ error: "ValidationException" });
  });
  it("refuses maxResults outside 1..1000 and an unknown status", () => {
    expect(parseListQuery(new URLSearchParams("maxResults=0"))).toMatchObject({ error: "ValidationException" });
    expect(parseListQuery(new URLSearchParams("maxResults=1001"))).toMatchObject({ error: "ValidationException" });
    expect(parseListQuery(new URLSearchParams("statusEquals=Running"))).toMatchObject({ error: "ValidationException" });
    expect(parseListQuery(new URLSearchParams("statusEquals=InProgress&maxResults=5"))).toMatchObject({ statusEquals: "InProgress", maxResults: 5, sortOrder: "Descending" });
  });
});
