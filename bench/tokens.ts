// Benchmark (not a test): tokens per text for every catalogue model in each answer format, on
// the bundled sample, through the real pipeline (SQS, worker, Bedrock emulator over the wire),
// with token counts from the results' usage (the emulator counts Llama with Llama 3's real
// tokenizer, Claude, Nova, Qwen3 and gpt-oss approximated from it). JSON is the format labelq
// used before lines and the baseline here. Prints Markdown tables for docs/benchmarks.md.
//   npm run bench:tokens [-- --tpm 300000 --batch-size 50 --models qwen3-32b,gpt-oss-120b]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { createAwsClients } from "../src/adapters/aws-clients.ts";
import { loadConfig } from "../src/core/config/config.ts";
import type { LabelResult } from "../src/core/contracts/result.ts";
import { PACKAGED_CATALOGUE } from "../src/core/models/model-catalogue.ts";
import { MODELS } from "../src/core/models/model-registry.ts";
import { startLocalStack } from "../src/app/local/local-stack.ts";
import { buildBatches } from "../src/app/producer/build-batches.ts";
import { collectResults } from "../src/app/producer/collect-results.ts";
import { readTexts } from "../src/app/producer/read-texts.ts";
import { sendRequests } from "../src/app/producer/send-requests.ts";
import { countTokens } from "../src/core/models/token-estimator.ts";
import { OUTPUT_FORMATS, type OutputFormat } from "../src/core/prompts/output-format.ts";
import { forFormat, PromptRegistry } from "../src/core/prompts/prompt-registry.ts";
import { createWorker } from "../src/app/worker/worker.ts";

const { values } = parseArgs({ options: { tpm: { type: "string", default: "300000" }, "batch-size": { type: "string", default: "50" }, models: { type: "string" } } });
const tpm = Number(values.tpm);
const batchSize = Number(values["batch-size"]);
// --models: only these aliases (comma-separated), to measure models added since the last full run.
const only = values.models?.split(",").map((m) => m.trim()).filter((m) => m.length > 0);
const unknown = only?.filter((alias) => !MODELS.some((m) => m.alias === alias)) ?? [];
if (unknown.length > 0) throw new Error(`--models: not in the catalogue: ${unknown.join(", ")} (known: ${MODELS.map((m) => m.alias).join(", ")})`);
const BENCH_MODELS = only === undefined ? MODELS : MODELS.filter((m) => only.includes(m.alias));
process.env.AWS_ACCESS_KEY_ID ??= "test";
process.env.AWS_SECRET_ACCESS_KEY ??= "test";

const texts = await readTexts("samples/product-feedback.jsonl");
const prompt = await new PromptRegistry("prompts").resolve("product-feedback", "prod");
const dimensions = prompt.taxonomy.dimensions.length;

/** A catalogue file in which every packaged model answers in `format`. */
function catalogueIn(format: OutputFormat): string {
  const catalogue = JSON.parse(fs.readFileSync(PACKAGED_CATALOGUE, "utf8")) as { models: Record<string, unknown>[] };
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "labelq-bench-")), `${format}.json`);
  fs.writeFileSync(file, JSON.stringify({ models: catalogue.models.map((m) => ({ ...m, outputFormat: format })) }));
  return file;
}

interface Row {
  model: string;
  format: OutputFormat;
  calls: number;
  labelled: number;
  input: number;
  output: number;
  reserved: number;
  settled: number;
  costPer1k: number;
}

async function measure(alias: string, format: OutputFormat, catalogue: string): Promise<Row> {
  const stack = await startLocalStack({ emulator: { latency: { fixedMs: 0, perOutputTokenMs: 0 } } });
  const config = loadConfig({
    ...stack.env,
    LABELQ_WAIT_TIME_S: "1",
    LABELQ_CACHE_TABLE: "off",
    LABELQ_MODEL_CATALOGUE: catalogue,
    LABELQ_DEFAULT_MODEL: alias,
    LABELQ_FALLBACK_MODELS: "none",
    LOG_LEVEL: "silent",
  });
  const clients = createAwsClients(config);
  const worker = createWorker(config, clients, pino({ level: "silent" }));
  worker.pool.start();
  const requests = buildBatches(texts, { batchSize, prefix: `tokens-${alias}-${format}-${Date.now()}` });
  await sendRequests(clients.sqs, stack.queues.requests, requests);
  const results: LabelResult[] = [];
  await collectResults(clients.sqs, { queueUrl: stack.queues.results, batches: requests.length, timeoutMs: 120_000, onResult: (r) => void results.push(r) });
  await worker.close();
  clients.destroy();
  await stack.close();
  const sum = (f: (r: LabelResult) => number) => results.reduce((n, r) => n + f(r), 0);
  const burn = MODELS.find((m) => m.alias === alias)?.outputBurnDown ?? 1;
  const input = sum((r) => r.usage.inputTokens + r.usage.cacheReadInputTokens + r.usage.cacheWriteInputTokens);
  const output = sum((r) => r.usage.outputTokens);
  const n = texts.length;
  return {
    model: alias,
    format,
    calls: sum((r) => r.usage.modelCalls),
    labelled: sum((r) => r.items.filter((i) => i.labels !== null).length),
    input: input / n,
    output: output / n,
    reserved: sum((r) => r.usage.reservedTokens) / n,
    // What the rolling minute keeps once a call ends: input (cache reads excepted) + output x burn-down.
    settled: (sum((r) => r.usage.inputTokens + r.usage.cacheWriteInputTokens) + output * burn) / n,
    costPer1k: (1000 * sum((r) => r.usage.costUsd)) / n,
  };
}

const rows: Row[] = [];
for (const format of ["json", ...OUTPUT_FORMATS.filter((f) => f !== "json")] as OutputFormat[]) {
  const catalogue = catalogueIn(format);
  for (const m of BENCH_MODELS) rows.push(await measure(m.alias, format, catalogue));
}

const f1 = (x: number) => x.toFixed(1);
console.log(`${texts.length} sample texts in batches of ${batchSize}, ${dimensions} dimensions (product-feedback, prod); Bedrock emulator (test double), strict.`);
console.log(
  `texts/min at ${tpm.toLocaleString("en-US")} tokens per minute, derived (tokens per minute / tokens per text, not measured against a quota; bench:quota measures): by what calls reserve while they run (input + maxTokens), and by what stays in the minute once they end (input + output x burn-down).`,
);
console.log("");
console.log("| model | format | calls | labelled | in / text | out / text | out / dimension | reserved / text | texts/min (reserved) | texts/min (settled) | USD / 1,000 texts |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.model} | ${r.format} | ${r.calls} | ${r.labelled}/${texts.length} | ${f1(r.input)} | ${f1(r.output)} | ${(r.output / dimensions).toFixed(2)} | ${f1(r.reserved)} | ${Math.floor(tpm / r.reserved)} | ${Math.floor(tpm / r.settled)} | ${r.costPer1k.toFixed(4)} |`,
  );
}
console.log("");
console.log("| model | reserved / text, lines vs JSON | texts/min (reserved), lines vs JSON | cost, lines vs JSON |");
console.log("|---|---|---|---|");
for (const m of BENCH_MODELS) {
  const json = rows.find((r) => r.model === m.alias && r.format === "json");
  const lines = rows.find((r) => r.model === m.alias && r.format === "lines");
  if (!json || !lines) continue;
  console.log(`| ${m.alias} | ${f1(lines.reserved)} vs ${f1(json.reserved)} | ${(json.reserved / lines.reserved).toFixed(2)}x | ${(lines.costPer1k / json.costPer1k).toFixed(2)}x |`);
}

// What each part of the system prompt costs, in each format (Llama 3 tokens): where a shorter prompt would have to come from.
const parts = ["headings", "definitions", "labels and anchors", "examples", "edge cases", "template and output format"] as const;
const costs = Object.fromEntries(OUTPUT_FORMATS.map((format) => [format, sectionCosts(forFormat(prompt, format).system)])) as Record<OutputFormat, Record<(typeof parts)[number], number>>;
console.log("");
console.log(`System prompt of product-feedback ${prompt.version} by part, Llama 3 tokens:`);
console.log("");
console.log(`| part | ${OUTPUT_FORMATS.join(" | ")} |`);
console.log(`|---|${OUTPUT_FORMATS.map(() => "---").join("|")}|`);
for (const part of parts) console.log(`| ${part} | ${OUTPUT_FORMATS.map((f) => costs[f][part]).join(" | ")} |`);
console.log(`| **total** | ${OUTPUT_FORMATS.map((f) => countTokens(forFormat(prompt, f).system, { kind: "llama3" })).join(" | ")} |`);

/**
 * Tokens of each kind of line in a rendered system prompt (both renderings: `## <code>: ...` or
 * `## ... code "<code>")` headings). Each part's lines are joined and counted once; the template
 * and output format are the rest of the total, so the parts add up to it.
 */
function sectionCosts(system: string): Record<(typeof parts)[number], number> {
  const text = Object.fromEntries(parts.map((p) => [p, ""])) as Record<(typeof parts)[number], string>;
  for (const block of system.split(/\n(?=## )/)) {
    const isDimension = /^## [a-z0-9]+: /.test(block) || /^## .*code "[a-z0-9]+"\)/.test(block);
    if (!isDimension) continue;
    let part: (typeof parts)[number] = "definitions";
    for (const [k, line] of block.split("\n").entries()) {
      if (k === 0) part = "headings";
      else if (line === "Examples:") part = "examples";
      else if (line === "Edge cases:") part = "edge cases";
      else if (part === "headings") part = "definitions";
      if (part === "definitions" && /^(One of:|Choose |An integer|1 for yes|y for yes|-?\d+ to -?\d+)/.test(line)) part = "labels and anchors";
      text[part] += `${line}\n`;
    }
  }
  const count = (s: string) => countTokens(s, { kind: "llama3" });
  const out = Object.fromEntries(parts.map((p) => [p, count(text[p])])) as Record<(typeof parts)[number], number>;
  out["template and output format"] = count(system) - parts.slice(0, -1).reduce((n, p) => n + out[p], 0);
  return out;
}
