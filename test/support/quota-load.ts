import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { repoRoot } from "./run-cli.ts";

// What the quota tests (quota.test.ts, quota-fleet.test.ts) share: two files, so the local and the
// fleet scenarios (each tens of seconds of waiting on the quota) run side by side.

/**
 * The emulator's quota in a 10 s rolling window (limits scale: 120 rpm = 20 calls per 10 s), so a
 * sustained overload fits in a test.
 */
export const QUOTA = { rpm: 120, tpm: 10_000_000, windowSeconds: 10 };

/** A worker's settings for running at QUOTA: one call per batch, retries enough to ride out throttles. */
export const quotaEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
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

/** A `labelq worker` process with `env`, logging warnings only; the caller kills it. */
export function startQuotaWorkerProcess(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [path.join(repoRoot, "bin", "labelq.js"), "worker"], {
    env: { ...process.env, ...env, LOG_LEVEL: "warn", LABELQ_HTTP_PORT: "0" },
    stdio: ["ignore", "ignore", "inherit"],
  });
}
