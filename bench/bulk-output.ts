// Benchmark (not a test): peak memory of reading a bulk job's output, a line at a time
// (readJobOutput: the S3 object streamed through node:readline) against reading each output file
// whole (GetObject into one string, then split: how output was read before). One output file of
// --records records is written to the embedded stack's S3 (fauxqs, in a process of its own), with
// the job's record map; each reader then runs in a fresh Node process, which reports its peak RSS
// (process.resourceUsage().maxRSS, and process.memoryUsage().rss sampled every 10 ms). Two more
// processes: one only loads the same modules and connects (the floor every reader starts from),
// one streams and parses every line but keeps nothing (what the stream itself costs; the
// streamed reader keeps each record's outcome, which the collector needs, on top of that).
//   npm run bench:bulk-output [-- --records 200000 --system-bytes 800]
// Lines are shorter here than on AWS: Bedrock echoes each record's modelInput, labelq's whole
// system prompt (~30 KB) included, so a real 50,000-record output file is over 1.5 GB, past the
// longest string V8 can hold (buffer.constants.MAX_STRING_LENGTH): read whole, it cannot be read.
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, S3Client, UploadPartCommand } from "@aws-sdk/client-s3";
import { spawn } from "node:child_process";
import { constants } from "node:buffer";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pino from "pino";
import { S3ObjectStore } from "../src/adapters/s3/object-store.ts";
import { recordMapBody, recordMapLine } from "../src/app/bulk/jsonl-files.ts";
import { recordIdAt } from "../src/app/bulk/plan-records.ts";
import { linesOf, type OutputRead, readJobOutput, readOutputFile, readRecordMap } from "../src/app/bulk/read-output.ts";
import type { JobRecord } from "../src/core/bulk/bulk-store.ts";
import { startBenchStack } from "./support/bench-stack.ts";
import { benchCommit } from "./support/bench-commit.ts";

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "200000" },
    // Size of the system prompt each output line echoes in its modelInput.
    "system-bytes": { type: "string", default: "800" },
    // Internal: run one reader in this process and print what it measured.
    child: { type: "string" },
    params: { type: "string" },
  },
});
process.env.AWS_ACCESS_KEY_ID ??= "test";
process.env.AWS_SECRET_ACCESS_KEY ??= "test";

const JOB_ID = "benchjob0001";
const PREFIX = "bench/jobs/20261125T000000Z-bench/";

/** What a reader process needs: where the object and its record map are. */
interface ReaderParams {
  endpoint: string;
  region: string;
  bucket: string;
  records: number;
}

interface Measured {
  reader: string;
  records: number;
  malformed: number;
  ms: number;
  maxRssMb: number;
  sampledPeakRssMb: number;
  /** Heap still in use after a full GC once read: what the reader keeps (the outcomes), without garbage not yet collected. */
  keptMb: number;
  /** Why the reader failed, if it did. */
  error?: string;
}

function jobOf(records: number): JobRecord {
  return {
    jobKey: "20261125T000000Z-bench",
    model: "llama3.3-70b",
    modelId: "us.meta.llama3-3-70b-instruct-v1:0",
    state: "collecting",
    version: 1,
    clientRequestToken: "bench",
    jobName: "labelq-bench",
    jobArn: `arn:aws:bedrock:us-east-1:000000000000:model-invocation-job/${JOB_ID}`,
    inputPrefix: `${PREFIX}input/a/`,
    outputPrefix: `${PREFIX}output/`,
    files: [`${PREFIX}input/a/records-0001.jsonl`],
    recordMap: `${PREFIX}input/a.record-map.jsonl.gz`,
    records,
    batches: Math.ceil(records / 5),
    createdAt: "2026-11-25T00:00:00.000Z",
    updatedAt: "2026-11-25T00:00:00.000Z",
  };
}

const outputKey = `${PREFIX}output/${JOB_ID}/records-0001.jsonl.out`;

/** One reader, in this (fresh) process: read the job's output and report its peak memory. */
async function runReader(reader: string, params: ReaderParams): Promise<void> {
  const s3 = new S3Client({ region: params.region, endpoint: params.endpoint, forcePathStyle: true });
  const objects = new S3ObjectStore(s3, params.bucket);
  const ctx = { objects, logger: pino({ level: "silent" }) };
  const job = jobOf(params.records);
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  const started = performance.now();
  let read: OutputRead = { records: new Map(), malformedLines: 0 };
  let lines = 0;
  if (reader === "streamed") {
    read = await readJobOutput(ctx, job);
  } else if (reader === "whole") {
    // The baseline: each output file whole in memory as one string, then split into lines.
    const keys = await readRecordMap(objects, job.recordMap!);
    for (const key of await objects.list(`${job.outputPrefix}${JOB_ID}/`)) {
      if (key.endsWith(".jsonl.out")) readOutputFile((await objects.get(key)) ?? "", read, keys);
    }
  } else if (reader === "lines") {
    // The stream alone: every line read and parsed, nothing kept (the outcomes are what the collector keeps).
    for (const key of await objects.list(`${job.outputPrefix}${JOB_ID}/`)) {
      const body = key.endsWith(".jsonl.out") ? await objects.stream(key) : undefined;
      if (!body) continue;
      for await (const line of linesOf(body, key)) {
        if (line.length === 0) continue;
        if (typeof (JSON.parse(line) as { recordId?: unknown }).recordId === "string") lines += 1;
        else read.malformedLines += 1;
      }
    }
  } else {
    // The floor: the same modules loaded and one request made, nothing read.
    await objects.list(`${job.outputPrefix}${JOB_ID}/`);
  }
  const ms = performance.now() - started;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  (globalThis as { gc?: () => void }).gc?.();
  const keptMb = process.memoryUsage().heapUsed / 1e6;
  s3.destroy();
  const measured: Measured = {
    reader,
    records: reader === "lines" ? lines : read.records.size,
    malformed: read.malformedLines,
    ms,
    maxRssMb: (process.resourceUsage().maxRSS * 1024) / 1e6,
    sampledPeakRssMb: peak / 1e6,
    keptMb,
  };
  process.stdout.write(`${JSON.stringify(measured)}\n`);
  // The reader's result is kept alive until here, so the heap measured above includes it.
  if (read.records.size < 0) console.log(read);
}

/** One output line as Bedrock writes it for a Converse record: the record's modelInput echoed, and the answer. */
function outputLine(n: number, system: string): string {
  const texts = Array.from({ length: 10 }, (_, k) => `${k + 1}. review ${n}-${k}: the kettle ${k % 2 === 0 ? "is great" : "broke after a week"}`).join("\n");
  const answer = Array.from({ length: 10 }, (_, k) => `${k + 1} pos fru 3 5 2 4 1 3 skp ret hig - pri`).join("\n");
  return JSON.stringify({
    recordId: recordIdAt(n),
    modelInput: { system: [{ text: system }], messages: [{ role: "user", content: [{ text: texts }] }], inferenceConfig: { maxTokens: 700, temperature: 0 } },
    modelOutput: { output: { message: { role: "assistant", content: [{ text: answer }] } }, stopReason: "end_turn", usage: { inputTokens: 900, outputTokens: 210, totalTokens: 1110 } },
  });
}

/** Write the output file (multipart: fauxqs takes at most 11 MiB per request) and the record map; the object's size in bytes. */
async function writeOutput(s3: S3Client, bucket: string, records: number, systemBytes: number): Promise<number> {
  const system = "You label short product-feedback texts. ".repeat(Math.ceil(systemBytes / 41)).slice(0, systemBytes);
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: outputKey }));
  const parts: { ETag: string | undefined; PartNumber: number }[] = [];
  let buffered: string[] = [];
  let bufferedBytes = 0;
  let total = 0;
  const upload = async () => {
    const body = Buffer.from(buffered.join(""), "utf8");
    const PartNumber = parts.length + 1;
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: outputKey, UploadId, PartNumber, Body: body }));
    parts.push({ ETag, PartNumber });
    total += body.length;
    buffered = [];
    bufferedBytes = 0;
  };
  // The output's order is not the input's (docs: batch-inference-data): records in a scrambled order.
  const stride = 7_919;
  for (let k = 0; k < records; k++) {
    const line = `${outputLine((k * stride) % records, system)}\n`;
    buffered.push(line);
    bufferedBytes += line.length;
    if (bufferedBytes >= 8 * 1024 * 1024) await upload();
  }
  if (buffered.length > 0) await upload();
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: outputKey, UploadId, MultipartUpload: { Parts: parts } }));
  const map = Array.from({ length: records }, (_, n) => recordMapLine({ recordId: recordIdAt(n), batchId: `bench-batch-${Math.floor(n / 5)}`, chunk: n % 5, textIds: Array.from({ length: 10 }, (_, k) => `t${(n % 5) * 10 + k + 1}`) }));
  await new S3ObjectStore(s3, bucket).put(jobOf(records).recordMap!, recordMapBody(map));
  return total;
}

/** Run one reader in a fresh Node process and read what it measured; a reader that fails is reported with its error. */
function measure(reader: string, params: ReaderParams): Promise<Measured> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), "--child", reader, "--params", JSON.stringify(params)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
    child.once("exit", (code) => {
      if (code === 0) return resolve(JSON.parse(out.trim().split("\n").at(-1)!) as Measured);
      // Node prints the source line first, then "<Name>Error: message".
      const why = err.split("\n").find((l) => /^\w*Error( \[\w+\])?: /.test(l))?.trim() ?? `exit ${String(code)}`;
      resolve({ reader, records: 0, malformed: 0, ms: 0, maxRssMb: 0, sampledPeakRssMb: 0, keptMb: 0, error: why.replaceAll("|", "/").replace(/s3:\/\/\S*\//, "s3://.../").slice(0, 160) });
    });
  });
}

if (values.child !== undefined) {
  await runReader(values.child, JSON.parse(values.params ?? "{}") as ReaderParams);
} else {
  const records = Number(values.records);
  const stack = await startBenchStack("process", {});
  try {
    const params: ReaderParams = { endpoint: stack.env.AWS_ENDPOINT_URL_S3!, region: stack.env.AWS_REGION ?? "us-east-1", bucket: stack.env.LABELQ_BULK_BUCKET!, records };
    const s3 = new S3Client({ region: params.region, endpoint: params.endpoint, forcePathStyle: true });
    const bytes = await writeOutput(s3, params.bucket, records, Number(values["system-bytes"]));
    s3.destroy();
    const rows: Measured[] = [];
    for (const reader of ["floor", "lines", "streamed", "whole"]) rows.push(await measure(reader, params));
    for (const row of rows) {
      if (row.error === undefined && row.reader !== "floor" && (row.records !== records || row.malformed !== 0)) throw new Error(`the ${row.reader} reader read ${row.records} records (${row.malformed} malformed), not ${records}`);
    }
    if (rows[0]!.error !== undefined || rows[2]!.error !== undefined) throw new Error(`a reader failed: ${rows.map((r) => r.error ?? "").join("; ")}`);
    const commit = benchCommit();
    const mb = (n: number) => n.toFixed(0);
    console.log(
      `commit ${commit}, ${new Date().toISOString().slice(0, 10)}, node ${process.version}; one output file of ${records.toLocaleString("en")} records, ` +
        `${(bytes / 1e6).toFixed(0)} MB, in the embedded stack's S3 (fauxqs, a process of its own); each reader in a fresh process; ` +
        `V8's longest string: ${(constants.MAX_STRING_LENGTH / 1e6).toFixed(0)} M characters\n`,
    );
    console.log("| reader | records read | peak RSS (maxRSS), MB | peak RSS sampled every 10 ms, MB | peak above the floor, MB | heap kept after GC, MB | seconds |");
    console.log("|---|---|---|---|---|---|---|");
    const floor = rows[0]!.maxRssMb;
    const names: Record<string, string> = {
      floor: "floor: modules loaded, one request, nothing read",
      lines: "streamed, lines parsed and dropped (the stream alone)",
      streamed: "streamed, a line at a time (readJobOutput)",
      whole: "whole object in one string, then split (before)",
    };
    for (const r of rows) {
      if (r.error !== undefined) console.log(`| ${names[r.reader]} | failed: ${r.error} | - | - | - | - | - |`);
      else console.log(`| ${names[r.reader]} | ${r.reader === "floor" ? "-" : r.records.toLocaleString("en")} | ${mb(r.maxRssMb)} | ${mb(r.sampledPeakRssMb)} | ${r.reader === "floor" ? "-" : mb(r.maxRssMb - floor)} | ${mb(r.keptMb)} | ${(r.ms / 1000).toFixed(1)} |`);
    }
  } finally {
    await stack.close();
  }
}
