import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AwsClients, createAwsClients } from "../../src/adapters/aws-clients.ts";
import { DynamoLabelCache } from "../../src/adapters/dynamodb/dynamo-label-cache.ts";
import type { ExportReport } from "../../src/app/distill/export-training-set.ts";
import { splitPoint } from "../../src/app/distill/split-examples.ts";
import { teacherCache } from "../../src/app/distill/teacher-cache.ts";
import { LOCAL_CREDENTIALS, type LocalStack, startLocalStack } from "../../src/app/local/local-stack.ts";
import { createWorker, modelCatalogueFor, type Worker } from "../../src/app/worker/worker.ts";
import { normalizeText } from "../../src/core/cache/cache-key.ts";
import { type Config, loadConfig } from "../../src/core/config/config.ts";
import type { LabelRequest } from "../../src/core/contracts/request.ts";
import { type LabelResult, type LabelValue, resultSchema } from "../../src/core/contracts/result.ts";
import { PromptRegistry } from "../../src/core/prompts/prompt-registry.ts";
import { toSqsJson } from "../../src/adapters/sqs/sqs-json.ts";
import { jsonl } from "../support/distill-fixtures.ts";
import { REPO_ROOT } from "../support/fakes.ts";
import { runCli } from "../support/run-cli.ts";
import { until } from "../support/until.ts";

// `labelq distill export --from-cache` on the embedded stack: the worker labels batches through
// the queues and the Bedrock emulator (a test double) and caches the labels in DynamoDB
// (dynalite); the export then reads them back for the producer's texts. Prompt v2 rewrites two
// dimensions' definitions of v1 (same template): labels cached under v1 are stale for v2.

const CHANGED = ["sentiment_polarity", "sarcasm"];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-distill-cache-"));
let stack: LocalStack;
let config: Config;
let clients: AwsClients;
let worker: Worker;
const env: Record<string, string> = {};

/** A prompts dir whose product-feedback v2 has v1's template and taxonomy but two rewritten definitions. */
function promptsWithChangedDefinitions(): string {
  const dir = path.join(tmp, "prompts");
  const src = path.join(REPO_ROOT, "prompts", "product-feedback");
  const dst = path.join(dir, "product-feedback");
  fs.mkdirSync(dst, { recursive: true });
  fs.copyFileSync(path.join(src, "v1.md"), path.join(dst, "v1.md"));
  const taxonomy = JSON.parse(fs.readFileSync(path.join(src, "taxonomy.json"), "utf8")) as { dimensions: { key: string; definition: string }[] };
  fs.writeFileSync(path.join(dst, "taxonomy.json"), JSON.stringify(taxonomy));
  for (const d of taxonomy.dimensions) if (CHANGED.includes(d.key)) d.definition += " Judge the author's overall stance, not single phrases.";
  fs.writeFileSync(path.join(dst, "taxonomy.v2.json"), JSON.stringify(taxonomy));
  fs.writeFileSync(
    path.join(dst, "manifest.json"),
    JSON.stringify({ versions: { v1: { template: "v1.md" }, v2: { template: "v1.md", taxonomy: "taxonomy.v2.json" } }, aliases: { prod: "v2" }, inference: { temperature: 0.5, topP: 0.9 } }),
  );
  return dir;
}

const text = (group: string, k: number) => `${group} review ${k}: the colour is lovely but the battery died within a week`;
// Labelled under v2 (fresh), under v1 only (stale for v2), cached but expired, and never labelled.
const fresh = Array.from({ length: 12 }, (_, k) => ({ id: `f-${k + 1}`, text: text("fresh", k + 1) }));
const stale = Array.from({ length: 5 }, (_, k) => ({ id: `s-${k + 1}`, text: text("older", k + 1) }));
const expired = { id: "e-1", text: text("expired", 1) };
const uncached = [1, 2].map((k) => ({ id: `u-${k}`, text: text("unseen", k) }));
const textsFile = path.join(tmp, "reviews.jsonl");
let freshResult: LabelResult;

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY ??= LOCAL_CREDENTIALS.secretAccessKey;
  stack = await startLocalStack({ queuePrefix: `lq-dcache-${randomUUID().slice(0, 6)}`, emulator: { seed: 11 } });
  Object.assign(env, stack.env, { LABELQ_PROMPTS_DIR: promptsWithChangedDefinitions() });
  config = loadConfig({ ...env, LABELQ_WAIT_TIME_S: "1", LABELQ_VISIBILITY_TIMEOUT_S: "30", LABELQ_HEARTBEAT_S: "10", LABELQ_SHUTDOWN_TIMEOUT_S: "5", LOG_LEVEL: "silent" });
  clients = createAwsClients(config);
  worker = createWorker(config, clients, pino({ level: "silent" }));
  worker.pool.start();

  await send(request("fresh", fresh, "v2"));
  await send(request("older", stale, "v1"));
  const results = await receiveResults(clients.sqs, 2);
  freshResult = results.find((r) => r.batchId.startsWith("fresh"))!;
  for (const r of results) expect(r.status, r.batchId).toBe("completed");

  // An entry as the worker writes it (its keys, the real adapter), whose TTL has passed: DynamoDB deletes lazily, so it is still there.
  const prompts = new PromptRegistry(config.prompts.dir);
  const cache = new DynamoLabelCache(clients.dynamo, stack.tables.cacheTable, pino({ level: "silent" }));
  const teacher = await teacherCache({ cache, catalogue: modelCatalogueFor(config), prompts, teacher: config.models.default, taxonomy: "product-feedback", promptVersion: "v2" });
  const labels = freshResult.items[0]!.labels!;
  await cache.putMany([
    {
      key: teacher.keyOf(expired.text),
      labels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, { h: teacher.prompt.dimensionHashes[k]!, v }])),
      model: teacher.teacher.modelId,
      promptVersion: "v2",
      expiresAt: Math.floor(Date.now() / 1000) - 60,
    },
  ]);
  expect(cache.stats()).toMatchObject({ writes: 1, errors: 0 });

  // The producer's input file: every text, the duplicate of a fresh one under another id among them.
  fs.writeFileSync(textsFile, jsonl([...fresh, ...stale, expired, ...uncached, { id: "dup-1", text: `  ${fresh[0]!.text}  ` }]));
}, 180_000);

afterAll(async () => {
  await worker?.close();
  clients?.destroy();
  await stack?.close();
});

function request(prefix: string, items: { id: string; text: string }[], promptVersion: string): LabelRequest {
  return { schemaVersion: 1, batchId: `${prefix}-${randomUUID().slice(0, 8)}`, taxonomy: "product-feedback", promptVersion, items };
}

async function send(body: LabelRequest): Promise<void> {
  await clients.sqs.send(new SendMessageCommand({ QueueUrl: stack.queues.requests, MessageBody: toSqsJson(body) }));
}

async function receiveResults(sqs: SQSClient, count: number): Promise<LabelResult[]> {
  const out: LabelResult[] = [];
  await until(
    async () => {
      const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.queues.results, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const m of res.Messages ?? []) {
        out.push(resultSchema.parse(JSON.parse(m.Body ?? "")));
        await sqs.send(new DeleteMessageCommand({ QueueUrl: stack.queues.results, ReceiptHandle: m.ReceiptHandle }));
      }
      return out.length >= count;
    },
    { what: `${count} results on the results queue`, every: 0 },
  );
  return out;
}

function readJsonl<T>(file: string): T[] {
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as T) : [];
}

/** The texts in a records file, read back from the user turns (`<n>: "<text>"`). */
function recordTexts(file: string): string[] {
  return readJsonl<{ messages: { content: { text: string }[] }[] }>(file).flatMap((r) =>
    r.messages[0]!.content[0]!.text.split("\n").flatMap((line) => /^\d+: (".*")$/.exec(line)?.slice(1, 2).map((q) => JSON.parse(q) as string) ?? []),
  );
}

const base = () => ["distill", "export", "--from-cache", "--texts", textsFile, "--prompt", "v2", "--include-texts", "--texts-per-record", "3", "--validation", "0.2", "--heldout", "0.4"];

describe("labelq distill export --from-cache", () => {
  it("exports the teacher's cached labels for the texts, and counts stale, expired and uncached texts", async () => {
    const out = path.join(tmp, "from-cache");
    const { code, stdout, stderr } = await runCli([...base(), "--out-dir", out], env);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^label cache \(teacher llama3\.3-70b, \S+\): 20 texts looked up, 12 found, 5 stale \(an older definition of some dimension\), 3 missing$/m);
    expect(stdout).toContain("warning: 5 texts cached under an older definition of some dimension left out");

    const report = JSON.parse(fs.readFileSync(path.join(out, "report.json"), "utf8")) as ExportReport;
    // 21 lines, 20 texts once normalised (the padded duplicate); the expired entry is not used.
    expect(report.input.cache).toMatchObject({ teacher: "llama3.3-70b", texts: 20, found: 12, stale: 5, missing: 3, invalidLabels: 0, otherModel: {}, inResultsToo: 0 });
    expect(report.input).toMatchObject({ resultMessages: 0, resultsFiles: [], unique: 12 });
    const { train, validation, heldout } = report.splits;
    expect(train.texts + validation.texts + heldout.texts).toBe(12);

    // Every exported text is a fresh one, and the held-out gold set carries the labels the worker gave and cached.
    const byText = new Map(fresh.map((f) => [f.text, freshResult.items.find((i) => i.id === f.id)!.labels!]));
    const exported = [...recordTexts(path.join(out, "train.jsonl")), ...recordTexts(path.join(out, "validation.jsonl"))];
    const gold = readJsonl<{ id: string; text: string; labels: Record<string, LabelValue> }>(path.join(out, "heldout.jsonl"));
    expect(new Set([...exported, ...gold.map((g) => g.text)])).toEqual(new Set(byText.keys()));
    expect(gold.length).toBeGreaterThan(0);
    for (const g of gold) expect(g.labels, g.text).toEqual(byText.get(g.text));
  });

  it("takes a text's labels from the results when the results have it too, and says so", async () => {
    const results = path.join(tmp, "results.jsonl");
    // The results hold half the fresh texts, one with another (valid) sentiment than the worker cached.
    const items = freshResult.items.slice(0, 6).map((i, n) => (n === 0 ? { ...i, labels: { ...i.labels, sentiment_polarity: flip(i.labels!.sentiment_polarity) } } : i));
    fs.writeFileSync(results, jsonl([{ ...freshResult, items }]));
    const out = path.join(tmp, "with-results");
    // A seed that holds the changed text out, so the gold set shows which labels it got.
    const seed = Array.from({ length: 100 }, (_, s) => s + 1).find((s) => splitPoint(s, normalizeText(fresh[0]!.text)) < 0.5)!;
    const { code, stdout, stderr } = await runCli([...base(), "--results", results, "--heldout", "0.5", "--validation", "0", "--seed", String(seed), "--out-dir", out], env);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/12 found \(6 also in the results, whose labels are kept\)/);
    const report = JSON.parse(fs.readFileSync(path.join(out, "report.json"), "utf8")) as ExportReport;
    expect(report.input.cache).toMatchObject({ found: 12, inResultsToo: 6 });
    expect(report.input).toMatchObject({ resultMessages: 1, items: 6, unique: 12 });
    const gold = readJsonl<{ text: string; labels: Record<string, LabelValue> }>(path.join(out, "heldout.jsonl"));
    const changed = gold.find((g) => g.text === fresh[0]!.text);
    expect(changed?.labels.sentiment_polarity).toBe(items[0]!.labels!.sentiment_polarity);
    expect(changed?.labels.sentiment_polarity).not.toBe(freshResult.items[0]!.labels!.sentiment_polarity);
  });

  it("refuses without --results or --from-cache, and --from-cache with a teacher that is not a catalogue alias", async () => {
    const none = await runCli(["distill", "export", "--texts", textsFile, "--include-texts", "--out-dir", path.join(tmp, "none")], env);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("--results <file>, --from-cache, or both");
    const byId = await runCli([...base(), "--teacher", "meta.llama3-3-70b-instruct-v1:0", "--out-dir", path.join(tmp, "by-id")], env);
    expect(byId.code).toBe(1);
    expect(byId.stderr).toContain("--from-cache needs the teacher as a catalogue alias");
    expect(fs.existsSync(path.join(tmp, "by-id"))).toBe(false);
  });
});

/** Another valid sentiment_polarity value than `v`. */
function flip(v: LabelValue | undefined): LabelValue {
  return v === "positive" ? "negative" : "positive";
}
