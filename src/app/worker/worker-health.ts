import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { HealthChecks } from "./health-server.ts";

/** How long a readiness answer about the queue is reused, so probes do not hammer SQS. */
const QUEUE_CHECK_TTL_MS = 10_000;

/** What the probes read of a worker pool (WorkerPool has it); observability imports nothing above it. */
export interface PoolState {
  inFlight(): number;
  readonly stopping: boolean;
  /** When a long poll last came back (epoch ms). */
  readonly lastPollAt: number;
}

/**
 * Liveness: the poll loop came back recently, or batches are in flight (then no poll is due).
 * Readiness: not shutting down, and the requests queue answers.
 */
export function workerHealthChecks(pool: PoolState, sqs: SQSClient, queueUrl: string, waitTimeS: number): HealthChecks {
  let queueCheck: { at: number; ok: boolean; error?: string } | undefined;
  const maxPollGapMs = (waitTimeS + 60) * 1000;
  return {
    live() {
      const sincePollMs = Date.now() - pool.lastPollAt;
      const ok = pool.stopping || pool.inFlight() > 0 || sincePollMs < maxPollGapMs;
      return { ok, detail: { inFlight: pool.inFlight(), sincePollMs } };
    },
    async ready() {
      if (pool.stopping) return { ok: false, detail: { reason: "shutting down" } };
      if (!queueCheck || Date.now() - queueCheck.at > QUEUE_CHECK_TTL_MS) {
        try {
          await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }), { abortSignal: AbortSignal.timeout(3_000) });
          queueCheck = { at: Date.now(), ok: true };
        } catch (error) {
          queueCheck = { at: Date.now(), ok: false, error: (error as Error).message };
        }
      }
      return { ok: queueCheck.ok, detail: queueCheck.ok ? { inFlight: pool.inFlight() } : { reason: `requests queue unreachable: ${queueCheck.error}` } };
    },
  };
}
