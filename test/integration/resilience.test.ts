import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import net from "node:net";
import { afterEach, describe, expect } from "vitest";
import { findModel } from "../../src/core/models/model-registry.ts";
import { it } from "../support/fixtures.ts";
import { makeRequest } from "../support/pipeline.ts";
import { freePort } from "../support/run-cli.ts";
import { until } from "../support/until.ts";
import { killProcess } from "../support/worker-process.ts";

const redisServers: ChildProcess[] = [];
afterEach(async () => {
  for (const r of redisServers.splice(0)) await killProcess(r);
});

/** True when something accepts TCP connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1", () => {
      s.end();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

/** A Redis of the test's own (the shared one must not be restarted under other tests). */
async function startRedis(port: number): Promise<ChildProcess> {
  const redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  redisServers.push(redis);
  await until(() => listening(port));
  return redis;
}

describe("a Redis restart during a run", () => {
  it("neither stalls the worker nor loses a batch: the limiter goes local, then back to Redis", async ({ pipeline, workerProcess }) => {
    const port = await freePort();
    let redis = await startRedis(port);
    const p = await pipeline({ emulator: { latency: { fixedMs: 200, perOutputTokenMs: 0 } } });
    const worker = workerProcess({
      ...p.env,
      LABELQ_REDIS_URL: `redis://127.0.0.1:${port}`,
      LABELQ_LIMITER_ID: `lq-restart-${randomUUID()}`,
      LABELQ_QUOTA_RPM: "6000",
      LABELQ_CONCURRENCY: "2",
      LABELQ_CACHE_TABLE: "off",
    });
    const requests = Array.from({ length: 30 }, () => makeRequest(2));
    for (const r of requests.slice(0, 10)) await p.send(r);
    const first = await p.results(3);
    expect(first).toHaveLength(3);

    await killProcess(redis);
    for (const r of requests.slice(10, 20)) await p.send(r);
    // Work goes on while Redis is away: the limiter limits locally.
    await until(() => /limiter lost Redis: limiting locally/.test(worker.stderr()));
    // Back, empty (this Redis keeps nothing): the limiter's keys are gone (SETTINGS_KEY_NOT_FOUND).
    redis = await startRedis(port);
    for (const r of requests.slice(20)) await p.send(r);

    const rest = await p.results(27);
    const ids = new Set([...first, ...rest].map((r) => r.batchId));
    expect(ids.size, worker.stderr()).toBe(30);
    expect([...first, ...rest].every((r) => r.status === "completed")).toBe(true);
    // Once Redis answers again the lanes are rebuilt on it (fresh keys), and work goes on.
    await until(() => /limiter back on Redis/.test(worker.stderr()));
    const after = Array.from({ length: 3 }, () => makeRequest(2));
    for (const r of after) await p.send(r);
    expect((await p.results(3)).map((r) => r.status)).toEqual(["completed", "completed", "completed"]);
  });
});

describe("a model that is down", () => {
  it("opens its circuit breaker, the fallback answers, and the breaker closes again after a successful trial", async ({ pipeline }) => {
    const llama = findModel("llama3.3-70b")?.modelId ?? "";
    const claude = findModel("claude-sonnet")?.modelId ?? "";
    const p = await pipeline({
      emulator: { unavailableModels: [llama] },
      env: { LABELQ_BREAKER_THRESHOLD: "2", LABELQ_BREAKER_COOLDOWN_S: "2", LABELQ_MODEL_MAX_ATTEMPTS: "1", LABELQ_CONCURRENCY: "1", LABELQ_CACHE_TABLE: "off" },
    });
    const worker = p.startWorker();
    for (let k = 0; k < 6; k++) await p.send(makeRequest(2));
    const down = await p.results(6);
    expect(down.every((r) => r.status === "completed" && r.items.every((i) => i.model === claude))).toBe(true);
    // Two failures opened the breaker: the other batches skipped Llama without calling it.
    expect(p.emulator.stats().byModel[llama]?.calls).toBe(2);

    p.emulator.setUnavailableModels([]);
    // The cooldown over, the breaker lets one trial call through.
    await until(() => worker.breakers.state("llama3.3-70b") === "half-open");
    for (let k = 0; k < 3; k++) await p.send(makeRequest(2));
    const back = await p.results(3);
    // The half-open trial succeeded and closed the breaker: Llama answers again.
    expect(back.every((r) => r.items.every((i) => i.model === llama))).toBe(true);
    expect(p.emulator.stats().byModel[llama]?.calls).toBe(5);
    expect(worker.breakers.state("llama3.3-70b")).toBe("closed");
  });
});

describe("SIGTERM", () => {
  it("drains the in-flight batch, publishes it and exits 0", async ({ pipeline, workerProcess }) => {
    const p = await pipeline({ emulator: { latency: { fixedMs: 2_000, perOutputTokenMs: 0 } } });
    const worker = workerProcess({ ...p.env, LABELQ_SHUTDOWN_TIMEOUT_S: "20" });
    const request = makeRequest(3);
    await p.send(request);
    await until(() => p.emulator.stats().calls > 0);
    worker.child.kill("SIGTERM");
    expect(await worker.exited, worker.stderr()).toBe(0);
    // The result was published, and the request deleted, before the process exited.
    expect(await p.messagesOn(p.queues.results)).toBe(1);
    expect(await p.messagesOn(p.queues.requests)).toBe(0);
    const [result] = await p.results(1);
    expect(result?.batchId).toBe(request.batchId);
    expect(worker.stderr()).toMatch(/worker stopped/);
  });
});
