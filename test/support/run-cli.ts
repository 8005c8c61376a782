import { type ChildProcess, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import net from "node:net";
import path from "node:path";

export const repoRoot = path.resolve(import.meta.dirname, "../..");
const cli = path.join(repoRoot, "bin", "labelq.js");

/**
 * Run `labelq <args>` to completion with the test process's Node (24). `timeoutMs` is a safety net
 * for a command that hangs, generous enough for a busy machine; no test asserts a run's duration.
 */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 120_000,
  options: { replaceEnv?: boolean } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // replaceEnv: only `env`, as in a fresh shell, so nothing of the test's own environment helps
    // (but V8's compile cache, which vitest.config.ts sets: it changes how fast Node starts, not what labelq does).
    const compileCache = process.env.NODE_COMPILE_CACHE ? { NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE } : {};
    const childEnv = options.replaceEnv ? { ...compileCache, ...env } : { ...process.env, LOG_LEVEL: "warn", ...env };
    const child = spawn(process.execPath, [cli, ...args], { env: childEnv, cwd: repoRoot });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`labelq ${args.join(" ")} did not exit within ${timeoutMs / 1000} s\n${stderr}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Start a long-running `labelq <args>` and resolve with its first stdout line. */
export function startCli(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcessWithoutNullStreams; firstLine: string; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, LOG_LEVEL: "warn", ...env }, cwd: repoRoot });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      const nl = stdout.indexOf("\n");
      if (nl >= 0) resolve({ child, firstLine: stdout.slice(0, nl), stderr: () => stderr });
    });
    child.on("close", (code) => reject(new Error(`labelq ${args.join(" ")} exited with ${code} before printing a line\n${stderr}`)));
  });
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `labelq local`'s port flags, each on a port free a moment ago: other test runs may hold the defaults. */
export async function localPortFlags(): Promise<string[]> {
  const flags: string[] = [];
  for (const flag of ["--sqs-port", "--dynamodb-port", "--bedrock-port", "--metrics-port"]) flags.push(flag, String(await freePort()));
  return flags;
}

/** What `labelq local` prints on its first line, as far as a producer needs it. */
export interface LocalStackLine {
  region: string;
  endpoints: { sqs: string };
  queues: { requests: string; results: string; dlq: string };
}

/** The environment of a producer's shell that talks to a `labelq local` stack. */
export function producerEnv(info: LocalStackLine): Record<string, string> {
  return {
    AWS_REGION: info.region,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_ENDPOINT_URL_SQS: info.endpoints.sqs,
    LABELQ_REQUESTS_QUEUE_URL: info.queues.requests,
    LABELQ_RESULTS_QUEUE_URL: info.queues.results,
    LABELQ_DLQ_URL: info.queues.dlq,
  };
}

/** Wait for a child process to exit; resolves with its exit code. */
export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on("exit", (code) => resolve(code))));
}
