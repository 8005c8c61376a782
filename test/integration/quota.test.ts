import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";
import { exited, repoRoot } from "../support/run-cli.ts";

let pipeline: Pipeline | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null) {
      c.kill("SIGKILL");
      await exited(c);
    }
  }
  await pipeline?.close();
  pipeline = undefined;
});

// The emulator's quota in a 10 s rolling window (limits scale: 120 rpm = 20 calls per 10 s),
// so a sustained overload fits in a test. Demand is 3x what the quota allows over the run.
const QUOTA = { rpm: 120, tpm: 10_000_000, windowSeconds: 10 };
const quotaEnv = (extra: Record<string, string> = {}) => ({
  LABELQ_QUOTA_RPM: "120",
  LABELQ_QUOTA_WINDOW_S: String(QUOTA.windowSeconds),
  LABELQ_CHUNK_SIZE: "50",
  LABELQ_CONCURRENCY: "8",
  LABELQ_CACHE_TABLE: "off",
  LABELQ_RETRY_BUDGET_S: "120",
  LABELQ_MODEL_MAX_ATTEMPTS: "5",
  LABELQ_FALLBACK_MODELS: "none",
  ...extra,
});

function startWorkerProcess(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [path.join(repoRoot, "bin", "labelq.js"), "worker"], {
    env: { ...process.env, ...env, LOG_LEVEL: "warn", LABELQ_HTTP_PORT: "0" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.push(child);
  return child;
}

describe("running at the quota, not over it", () => {
  it("labels a sustained overload (3x the quota) with zero failed batches and few throttled calls", async () => {
    pipeline = await startPipeline({ emulator: { quota: QUOTA, latency: { fixedMs: 50, perOutputTokenMs: 0 } }, env: quotaEnv() });
    pipeline.startWorker();
    // 20 s of quota is 40 calls; 60 batches of one call each is 3x that over 20 s.
    const requests = Array.from({ length: 60 }, () => makeRequest(2));
    for (const r of requests) await pipeline.send(r);
    const results = await pipeline.results(60, 90_000);
    expect(results).toHaveLength(60);
    expect(results.every((r) => r.status === "completed")).toBe(true);
    expect(await pipeline.drain(pipeline.queues.dlq, 1, 500)).toHaveLength(0);
    const stats = pipeline.emulator.stats();
    const throttledShare = stats.throttled / stats.calls;
    console.log(`overload, local limiter: ${stats.calls} calls, ${stats.throttled} throttled (${(100 * throttledShare).toFixed(1)}%)`);
    expect(throttledShare).toBeLessThan(0.05);
  });

  it.each([2, 4])("keeps %i worker processes sharing one Redis limiter within the quota together", async (processes) => {
    pipeline = await startPipeline({ emulator: { quota: QUOTA, latency: { fixedMs: 50, perOutputTokenMs: 0 } }, env: quotaEnv() });
    const env = { ...pipeline.env, ...quotaEnv({ LABELQ_REDIS_URL: "redis://127.0.0.1:6379", LABELQ_LIMITER_ID: `lq-fleet-${randomUUID()}`, LABELQ_CONCURRENCY: "4" }) };
    for (let k = 0; k < processes; k++) startWorkerProcess(env);
    const requests = Array.from({ length: 50 }, () => makeRequest(2));
    for (const r of requests) await pipeline.send(r);
    const results = await pipeline.results(50, 120_000);
    expect(results).toHaveLength(50);
    expect(results.every((r) => r.status === "completed")).toBe(true);
    const stats = pipeline.emulator.stats();
    const throttledShare = stats.throttled / stats.calls;
    console.log(`fleet of ${processes}: ${stats.calls} calls, ${stats.throttled} throttled (${(100 * throttledShare).toFixed(1)}%)`);
    // Without the shared window each process would run at the full quota: N times over it.
    expect(throttledShare).toBeLessThan(0.05);
  });
});
