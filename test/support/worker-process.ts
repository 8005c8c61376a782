import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { exited, repoRoot } from "./run-cli.ts";

/** A `labelq worker` child process and what it wrote to stderr (its log). */
export interface WorkerProcess {
  child: ChildProcess;
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/**
 * Start `labelq worker` with `env` on top of this process's environment, the way an
 * orchestrator runs it: `node bin/labelq.js`, not `npx`, so signals reach it. Logs in JSON
 * on stderr at `logLevel` (whatever `env` says, since tests read the log); probes on a free
 * port unless `env` names one.
 */
export function startWorkerProcess(env: Record<string, string>, options: { logLevel?: string } = {}): WorkerProcess {
  const child = spawn(process.execPath, [path.join(repoRoot, "bin", "labelq.js"), "worker"], {
    env: { ...process.env, LABELQ_HTTP_PORT: "0", ...env, LOG_LEVEL: options.logLevel ?? "info", LABELQ_LOG_PRETTY: "false" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  return { child, stderr: () => stderr, exited: exited(child) };
}

/** Kill a child process that is still running and wait for it to go (for test cleanup). */
export async function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGKILL");
  await exited(child);
}
