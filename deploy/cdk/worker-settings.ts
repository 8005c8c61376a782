import { type Config, loadConfig } from "../../src/core/config/config.ts";
import { DEFAULT_MAX_RECEIVE_COUNT } from "../../src/adapters/sqs/create-queues.ts";

/** labelq's own defaults (src/core/config/config.ts, src/adapters/sqs/create-queues.ts): the deployments start from the same numbers. */
export function labelqDefaults(): { config: Config; maxReceiveCount: number } {
  return { config: loadConfig({}), maxReceiveCount: DEFAULT_MAX_RECEIVE_COUNT };
}

/** Seconds a stopping worker is allowed after SIGTERM before the orchestrator kills it. */
const SHUTDOWN_MARGIN_S = 10;

/**
 * How long a worker needs from SIGTERM to exit: WorkerPool.stop() lets in-flight batches run
 * for LABELQ_SHUTDOWN_TIMEOUT_S while the open long polls (up to LABELQ_WAIT_TIME_S) end,
 * then returns unfinished messages to the queue (one ChangeMessageVisibility each) and
 * closes the limiter and the health server; the margin covers those last steps. This is
 * ECS's stopTimeout and Kubernetes' terminationGracePeriodSeconds.
 */
export function shutdownBudgetS(worker: Pick<Config["worker"], "shutdownTimeoutS" | "waitTimeS">): number {
  return Math.max(worker.shutdownTimeoutS, worker.waitTimeS) + SHUTDOWN_MARGIN_S;
}
