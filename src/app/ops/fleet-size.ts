/**
 * How many workers a Bedrock quota can feed, and how many a backlog needs by a deadline.
 *
 * One formula, shared by the CDK app (the autoscaling ceiling, the Lambda maximum
 * concurrency, the backlog-per-task target) and `labelq estimate`:
 *
 *   task rate  r_task  = concurrency / secondsPerBatch          batches/s one task finishes unthrottled
 *   quota rate r_quota = min(rpm / 60 / callsPerBatch,          batches/s the quota admits
 *                            tpm / 60 / tokensPerBatch)
 *   max useful tasks   = ceil(r_quota / r_task)                 more only wait on the limiter
 *   batches in flight  = ceil(r_quota * secondsPerBatch)        the same bound for Lambda
 *   tasks for backlog B by deadline D = ceil(B / D / r_task), at most the max useful tasks
 *   backlog-per-task target = acceptable latency * r_task       = latency / (secondsPerBatch / concurrency)
 *
 * secondsPerBatch is measured (the `labelq_batch_duration_seconds` histogram, or the
 * "batch labelled" log's durationMs) on an unthrottled worker; callsPerBatch and
 * tokensPerBatch come from `labelq estimate` (one clean pass; re-asks add calls).
 */

import type { Estimate } from "./estimate.ts";

export interface Quota {
  /** Requests per minute; 0 = no limit of that kind. */
  rpm: number;
  /** Tokens per minute; 0 = no limit of that kind. */
  tpm: number;
}

export interface BatchProfile {
  /** Model calls one batch makes (chunks, plus re-asks if they are common). */
  callsPerBatch: number;
  /** Tokens one batch counts against the TPM quota (input + output). */
  tokensPerBatch: number;
  /** Wall time of one batch on an unthrottled worker. */
  secondsPerBatch: number;
}

export interface FleetInputs extends BatchProfile {
  quota: Quota;
  /** Batches one task runs at once (LABELQ_CONCURRENCY). */
  concurrency: number;
}

export interface FleetCapacity {
  /** Batches per second one task finishes when nothing throttles it. */
  taskBatchesPerS: number;
  /** Batches per second the quota admits across the fleet; Infinity without a quota. */
  quotaBatchesPerS: number;
  /** Tasks beyond this only hold messages and raise latency; undefined without a quota. */
  maxUsefulTasks: number | undefined;
  /** Batches in flight the quota keeps busy (Lambda's concurrency bound); undefined without a quota. */
  maxUsefulInFlight: number | undefined;
  /** Which quota binds first. */
  bindingLimit: "rpm" | "tpm" | "none";
}

function positive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be a positive number, not ${value}`);
}

/** The fleet's throughput limits: per task, under the quota, and the task count past which adding tasks stops helping. */
export function fleetCapacity(inputs: FleetInputs): FleetCapacity {
  positive("callsPerBatch", inputs.callsPerBatch);
  positive("tokensPerBatch", inputs.tokensPerBatch);
  positive("secondsPerBatch", inputs.secondsPerBatch);
  positive("concurrency", inputs.concurrency);
  const taskBatchesPerS = inputs.concurrency / inputs.secondsPerBatch;
  const byRpm = inputs.quota.rpm > 0 ? inputs.quota.rpm / 60 / inputs.callsPerBatch : Infinity;
  const byTpm = inputs.quota.tpm > 0 ? inputs.quota.tpm / 60 / inputs.tokensPerBatch : Infinity;
  const quotaBatchesPerS = Math.min(byRpm, byTpm);
  if (quotaBatchesPerS === Infinity) {
    return { taskBatchesPerS, quotaBatchesPerS, maxUsefulTasks: undefined, maxUsefulInFlight: undefined, bindingLimit: "none" };
  }
  return {
    taskBatchesPerS,
    quotaBatchesPerS,
    // A small epsilon keeps exact multiples (4.000000001 from float division) from rounding up a task.
    maxUsefulTasks: Math.max(1, Math.ceil(quotaBatchesPerS / taskBatchesPerS - 1e-9)),
    maxUsefulInFlight: Math.max(1, Math.ceil(quotaBatchesPerS * inputs.secondsPerBatch - 1e-9)),
    bindingLimit: byRpm <= byTpm ? "rpm" : "tpm",
  };
}

export interface FleetPlan {
  capacity: FleetCapacity;
  /** Tasks to start: enough for the deadline, never more than the quota feeds. */
  tasks: number;
  /** Tasks the deadline alone would ask for. */
  tasksForDeadline: number;
  /** Whether `tasks` drain the backlog by the deadline. */
  meetsDeadline: boolean;
  /** Drain time with `tasks` tasks (the slower of their pace and the quota's). */
  drainS: number;
}

/** The fleet size that drains `backlogBatches` within `deadlineS`, capped where the quota stops feeding more tasks. */
export function fleetForDeadline(inputs: FleetInputs, backlogBatches: number, deadlineS: number): FleetPlan {
  positive("deadline", deadlineS);
  if (!(Number.isInteger(backlogBatches) && backlogBatches >= 0)) throw new RangeError(`backlog must be a whole number of batches, not ${backlogBatches}`);
  const capacity = fleetCapacity(inputs);
  const tasksForDeadline = Math.max(1, Math.ceil(backlogBatches / deadlineS / capacity.taskBatchesPerS - 1e-9));
  const tasks = Math.min(tasksForDeadline, capacity.maxUsefulTasks ?? tasksForDeadline);
  // No backlog drains faster than one batch takes.
  const drainS = backlogBatches === 0 ? 0 : Math.max(inputs.secondsPerBatch, backlogBatches / Math.min(tasks * capacity.taskBatchesPerS, capacity.quotaBatchesPerS));
  return { capacity, tasks, tasksForDeadline, meetsDeadline: drainS <= deadlineS * (1 + 1e-9), drainS };
}

/**
 * Target for "visible messages per running task": the backlog one task clears within the
 * acceptable latency (latency / seconds per batch per task). At least 1, so the target
 * tracking policy never aims at an empty queue.
 */
export function backlogPerTaskTarget(inputs: Pick<FleetInputs, "concurrency" | "secondsPerBatch">, acceptableLatencyS: number): number {
  positive("acceptableLatencyS", acceptableLatencyS);
  positive("secondsPerBatch", inputs.secondsPerBatch);
  return Math.max(1, Math.floor((acceptableLatencyS * inputs.concurrency) / inputs.secondsPerBatch));
}

/**
 * The fleet for the batches of an estimate (`labelq estimate`), on one model: calls and
 * tokens per batch come from the estimate, seconds per batch from a measurement.
 */
export function fleetForEstimate(
  estimate: Estimate,
  o: { model: string; quota: Quota; concurrency: number; secondsPerBatch: number; deadlineS: number },
): FleetPlan {
  const m = estimate.models.find((x) => x.model.alias === o.model);
  if (!m) throw new RangeError(`no estimate for model ${o.model}`);
  const batches = Math.max(1, estimate.batches);
  return fleetForDeadline(
    {
      quota: o.quota,
      concurrency: o.concurrency,
      secondsPerBatch: o.secondsPerBatch,
      callsPerBatch: Math.max(1, m.calls / batches),
      tokensPerBatch: Math.max(1, (m.inputTokens + m.outputTokens) / batches),
    },
    estimate.batches,
    o.deadlineS,
  );
}

/** A fleet plan as lines for the terminal. */
export function formatFleetPlan(plan: FleetPlan, backlogBatches: number, deadlineS: number, concurrency: number): string {
  const c = plan.capacity;
  const minutes = (s: number) => (s < 120 ? `${Math.round(s)} s` : `${(s / 60).toFixed(1)} min`);
  const lines = [
    `fleet for ${backlogBatches} batches within ${minutes(deadlineS)} (${concurrency} batches at once per worker):`,
    `  one worker: ${(c.taskBatchesPerS * 60).toFixed(1)} batches/min unthrottled`,
    c.maxUsefulTasks === undefined
      ? "  quota: none configured (LABELQ_QUOTA_RPM / LABELQ_QUOTA_TPM / LABELQ_QUOTAS): no ceiling on workers"
      : `  quota: ${(c.quotaBatchesPerS * 60).toFixed(1)} batches/min (${c.bindingLimit} binds first); more than ${c.maxUsefulTasks} workers only wait on the limiter`,
    `  workers: ${plan.tasks}${plan.tasks < plan.tasksForDeadline ? ` (the deadline alone would ask for ${plan.tasksForDeadline})` : ""}; drain time ~${minutes(plan.drainS)}`,
  ];
  if (!plan.meetsDeadline) lines.push("  the deadline cannot be met within this quota: raise the quota (Service Quotas) or move the deadline");
  return lines.join("\n");
}
