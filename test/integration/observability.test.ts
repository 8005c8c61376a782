import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/core/observability/logger.ts";
import { type HealthServer, startHealthServer } from "../../src/app/worker/health-server.ts";
import { workerHealthChecks } from "../../src/app/worker/worker-health.ts";
import { parsePrometheusText, sumOf } from "../../src/app/ops/prometheus-text.ts";
import type { Worker } from "../../src/app/worker/worker.ts";
import { makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";
import { runCli } from "../support/run-cli.ts";
import { until } from "../support/until.ts";

let pipeline: Pipeline | undefined;
let health: HealthServer | undefined;
afterEach(async () => {
  await health?.close();
  await pipeline?.close();
  pipeline = undefined;
  health = undefined;
});

async function withHealth(p: Pipeline, worker: Worker): Promise<string> {
  health = await startHealthServer({ port: 0, host: "127.0.0.1" }, worker.metrics, workerHealthChecks(worker.pool, p.clients.sqs, p.queues.requests, 1), p.logger);
  return `http://127.0.0.1:${health.port}`;
}

describe("metrics and probes", () => {
  it("exposes the counters of a labelled batch with the right values on /metrics", async () => {
    pipeline = await startPipeline({ emulator: { faults: [{ kind: "missing-ids", times: 1 }] } });
    const worker = pipeline.startWorker();
    const base = await withHealth(pipeline, worker);
    await pipeline.send(makeRequest(12));
    await pipeline.send("not json");
    const [result] = await pipeline.results(1);
    await pipeline.drain(pipeline.queues.dlq, 1);

    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    const samples = parsePrometheusText(await res.text());
    expect(sumOf(samples, "labelq_batches_total", { outcome: "published", taxonomy: "product-feedback", model: "llama3.3-70b", prompt_version: "v1" })).toBe(1);
    expect(sumOf(samples, "labelq_batches_total", { outcome: "dead-lettered" })).toBe(1);
    expect(sumOf(samples, "labelq_dlq_sends_total", { code: "INVALID_REQUEST" })).toBe(1);
    expect(sumOf(samples, "labelq_texts_total", { result: "model" })).toBe(12);
    expect(sumOf(samples, "labelq_model_calls_total", { model: "llama3.3-70b", outcome: "ok" })).toBe(result!.usage.modelCalls);
    expect(result!.usage.modelCalls).toBe(2);
    expect(sumOf(samples, "labelq_tokens_total", { direction: "input" })).toBe(result!.usage.inputTokens);
    expect(sumOf(samples, "labelq_tokens_total", { direction: "output" })).toBe(result!.usage.outputTokens);
    expect(sumOf(samples, "labelq_cost_usd_total")).toBeCloseTo(result!.usage.costUsd, 6);
    expect(sumOf(samples, "labelq_cache_lookups_total", { result: "miss" })).toBe(12);
    expect(sumOf(samples, "labelq_model_call_duration_seconds_count")).toBe(2);
    expect(sumOf(samples, "labelq_batch_duration_seconds_count", { outcome: "published" })).toBe(1);
    expect(sumOf(samples, "labelq_inflight_batches")).toBe(0);
  });

  it("counts throttled calls and per-item errors by code", async () => {
    pipeline = await startPipeline({
      emulator: { faults: [{ kind: "throttle", times: 1 }, { kind: "invalid-labels" }] },
      env: { LABELQ_MAX_REASK_ROUNDS: "0", LABELQ_FALLBACK_MODELS: "none", LABELQ_MODEL_MAX_ATTEMPTS: "1", LABELQ_RETRY_BASE_DELAY_S: "1" },
    });
    const worker = pipeline.startWorker();
    const base = await withHealth(pipeline, worker);
    await pipeline.send(makeRequest(10));
    const [result] = await pipeline.results(1);
    const samples = parsePrometheusText(await (await fetch(`${base}/metrics`)).text());
    expect(sumOf(samples, "labelq_model_calls_total", { outcome: "throttled" })).toBe(1);
    expect(sumOf(samples, "labelq_batches_total", { outcome: "retry-later" })).toBe(1);
    const errors = result!.items.filter((i) => i.error).length;
    expect(errors).toBeGreaterThan(0);
    expect(sumOf(samples, "labelq_item_errors_total", { code: "INVALID_OUTPUT" })).toBe(errors);
    expect(sumOf(samples, "labelq_texts_total", { result: "error" })).toBe(errors);
  });

  it("answers liveness and readiness, and readiness turns 503 while the worker shuts down", async () => {
    pipeline = await startPipeline({ emulator: { latency: { fixedMs: 1_500, perOutputTokenMs: 0 } } });
    const worker = pipeline.startWorker({ LABELQ_SHUTDOWN_TIMEOUT_S: "20" });
    const base = await withHealth(pipeline, worker);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);

    await pipeline.send(makeRequest(3));
    await until(() => worker.pool.inFlight() > 0);
    const closing = worker.close();
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ reason: "shutting down" });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await closing;
    expect((await pipeline.results(1)).length).toBe(1);
  });
});

describe("logs", () => {
  it("never contain the text of an item by default, while still logging each batch", async () => {
    const lines: string[] = [];
    const capture = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ level: "trace", logTexts: false }, capture);
    pipeline = await startPipeline({ logger, emulator: { faults: [{ kind: "invalid-labels", times: 1 }] } });
    pipeline.startWorker();
    const request = makeRequest(4);
    request.items[0]!.text = "SECRET-MARKER-7f3a my card number is 4111 1111 1111 1111";
    await pipeline.send(request);
    await pipeline.send("{ bad json with SECRET-MARKER-7f3a");
    await pipeline.results(1);
    await pipeline.drain(pipeline.queues.dlq, 1);
    const all = lines.join("");
    expect(all).toContain(request.batchId);
    expect(all).toContain("batch labelled");
    expect(all).toContain("request sent to the DLQ");
    expect(all).not.toContain("SECRET-MARKER-7f3a");
    expect(all).not.toContain("4111");
  });
});

describe("labelq status", () => {
  it("prints the depth of each queue and, from a worker's /metrics, its throughput", async () => {
    pipeline = await startPipeline();
    for (let k = 0; k < 3; k++) await pipeline.send(makeRequest(2));
    const env = { ...pipeline.env, AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" };
    const idle = await runCli(["status", "--interval", "0.2", "--metrics-url", "http://127.0.0.1:9/metrics"], env);
    expect(idle.code, idle.stderr).toBe(0);
    expect(idle.stdout).toMatch(/^requests\s+3\s+0\s+0$/m);
    expect(idle.stdout).toMatch(/^dlq\s+0\s+0\s+0$/m);
    expect(idle.stdout).toMatch(/metrics: http:\/\/127\.0\.0\.1:9\/metrics did not answer/);

    const worker = pipeline.startWorker();
    const base = await withHealth(pipeline, worker);
    await pipeline.results(3);
    const busy = await runCli(["status", "--interval", "0.2", "--metrics-url", `${base}/metrics`], env);
    expect(busy.stdout).toMatch(/^requests\s+0\s+0\s+0$/m);
    expect(busy.stdout).toMatch(/since start: batches 3\s+texts 6/);
  });
});
