import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findModel } from "../../src/llm/model-registry.ts";
import { makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";
import { exited, freePort, repoRoot } from "../support/run-cli.ts";

let pipeline: Pipeline | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill("SIGKILL");
      await exited(c);
    }
  }
  await pipeline?.close();
  pipeline = undefined;
});

/** A Redis of the test's own (the shared one must not be restarted under other tests). */
async function startRedis(port: number): Promise<ChildProcess> {
  const redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  children.push(redis);
  const net = await import("node:net");
  for (let k = 0; k < 100; k++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => {
        s.end();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return redis;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not start on ${port} (is redis-server installed?)`);
}

function startWorkerProcess(env: Record<string, string>): { child: ChildProcess; stderr: () => string } {
  let stderr = "";
  const child = spawn(process.execPath, [path.join(repoRoot, "bin", "labelq.js"), "worker"], {
    env: { ...process.env, ...env, LOG_LEVEL: "info", LABELQ_HTTP_PORT: "0", LABELQ_LOG_PRETTY: "false" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  children.push(child);
  return { child, stderr: () => stderr };
}

describe("a Redis restart during a run", () => {
  it("neither stalls the worker nor loses a batch: the limiter goes local, then back to Redis", async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    pipeline = await startPipeline({ emulator: { latency: { fixedMs: 200, perOutputTokenMs: 0 } } });
    const worker = startWorkerProcess({
      ...pipeline.env,
      LABELQ_REDIS_URL: `redis://127.0.0.1:${port}`,
      LABELQ_LIMITER_ID: `lq-restart-${randomUUID()}`,
      LABELQ_QUOTA_RPM: "6000",
      LABELQ_CONCURRENCY: "2",
      LABELQ_CACHE_TABLE: "off",
    });
    const requests = Array.from({ length: 30 }, () => makeRequest(2));
    for (const r of requests.slice(0, 10)) await pipeline.send(r);
    const first = await pipeline.results(3, 30_000);
    expect(first).toHaveLength(3);

    redis.kill("SIGKILL");
    await exited(redis);
    for (const r of requests.slice(10, 20)) await pipeline.send(r);
    await new Promise((r) => setTimeout(r, 3_000));
    // Back, empty (this Redis keeps nothing): the limiter's keys are gone (SETTINGS_KEY_NOT_FOUND).
    redis = await startRedis(port);
    for (const r of requests.slice(20)) await pipeline.send(r);

    const rest = await pipeline.results(27, 90_000);
    const ids = new Set([...first, ...rest].map((r) => r.batchId));
    expect(ids.size, worker.stderr()).toBe(30);
    expect([...first, ...rest].every((r) => r.status === "completed")).toBe(true);
    expect(worker.stderr()).toMatch(/limiter lost Redis: limiting locally/);
    // Once Redis answers again the lanes are rebuilt on it (fresh keys), and work goes on.
    for (let k = 0; k < 200 && !/limiter back on Redis/.test(worker.stderr()); k++) await new Promise((r) => setTimeout(r, 100));
    expect(worker.stderr()).toMatch(/limiter back on Redis/);
    const after = Array.from({ length: 3 }, () => makeRequest(2));
    for (const r of after) await pipeline.send(r);
    expect((await pipeline.results(3, 30_000)).map((r) => r.status)).toEqual(["completed", "completed", "completed"]);
  });
});

describe("a model that is down", () => {
  it("opens its circuit breaker, the fallback answers, and the breaker closes again after a successful trial", async () => {
    const llama = findModel("llama3.3-70b")!.modelId;
    const claude = findModel("claude-sonnet")!.modelId;
    pipeline = await startPipeline({
      emulator: { unavailableModels: [llama] },
      env: { LABELQ_BREAKER_THRESHOLD: "2", LABELQ_BREAKER_COOLDOWN_S: "2", LABELQ_MODEL_MAX_ATTEMPTS: "1", LABELQ_CONCURRENCY: "1", LABELQ_CACHE_TABLE: "off" },
    });
    pipeline.startWorker();
    for (let k = 0; k < 6; k++) await pipeline.send(makeRequest(2));
    const down = await pipeline.results(6);
    expect(down.every((r) => r.status === "completed" && r.items.every((i) => i.model === claude))).toBe(true);
    // Two failures opened the breaker: the other batches skipped Llama without calling it.
    expect(pipeline.emulator.stats().byModel[llama]?.calls).toBe(2);

    pipeline.emulator.setUnavailableModels([]);
    await new Promise((r) => setTimeout(r, 2_200));
    for (let k = 0; k < 3; k++) await pipeline.send(makeRequest(2));
    const back = await pipeline.results(3);
    // The half-open trial succeeded and closed the breaker: Llama answers again.
    expect(back.every((r) => r.items.every((i) => i.model === llama))).toBe(true);
    expect(pipeline.emulator.stats().byModel[llama]?.calls).toBe(5);
  });
});

describe("SIGTERM", () => {
  it("drains the in-flight batch, publishes it and exits 0", async () => {
    pipeline = await startPipeline({ emulator: { latency: { fixedMs: 2_000, perOutputTokenMs: 0 } } });
    const { child, stderr } = startWorkerProcess({ ...pipeline.env, LABELQ_SHUTDOWN_TIMEOUT_S: "20" });
    const request = makeRequest(3);
    await pipeline.send(request);
    while (pipeline.emulator.stats().calls === 0) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGTERM");
    expect(await exited(child), stderr()).toBe(0);
    // The result was published before the process exited.
    const [result] = await pipeline.results(1, 2_000);
    expect(result?.batchId).toBe(request.batchId);
    expect(stderr()).toMatch(/worker stopped/);
  });
});
