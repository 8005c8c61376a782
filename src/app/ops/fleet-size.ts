/**
 * How many workers a Bedrock quota can feed, and how many a backlog needs by a deadline.
 *
 * One formula, shared by the CDK app (the autoscaling ceiling, the Lambda maximum
 * concurrency, the backlog-per-task target), the Kubernetes manifests' figures,
 * `npm run bench:scaling` and `labelq estimate`.
 *
 * Bedrock counts a call against tokens per minute twice over (docs: quotas-token-burndown,
 * https://docs.aws.amazon.com/bedrock/latest/userguide/quotas-token-burndown.html): when it
 * starts it reserves input + cache + maxTokens; when it ends the call settles to
 * input + cache writes + output x the model's burn-down rate (Claude 4.x: "1 output token
 * consumes 5 tokens from your quotas"; Llama and Nova: 1). So the quota bounds the fleet in
 * three ways, and the tightest one binds:
 *
 *   inputs, per batch (one message, as measured or as `labelq estimate` plans it):
 *     calls  callsPerBatch           model calls (chunks, plus re-asks if they are common)
 *     T      tokensPerBatch          input (+ cache writes) + output tokens, as counted
 *     O      outputTokensPerBatch    the output part of T (default 0)
 *     b      outputBurnDown          quota tokens one output token burns (catalogue `quota.outputBurnDown`; default 1)
 *     R      reservedTokensPerBatch  what the batch's calls in flight at once reserve: sum of input + cache + maxTokens
 *                                    (the chunks of a batch run together; default: not counted)
 *     d      secondsPerBatch         wall time of one batch on an unthrottled worker
 *     c      concurrency             batches one task runs at once (LABELQ_CONCURRENCY)
 *     s      quotaShare              the share of the account's quota labelq may use (default 1: all of it)
 *
 *   quota labelq may use  rpm' = s * rpm,  tpm' = s * tpm
 *   settled cost          S = T + O * (b - 1)                = input + cache writes + output * b
 *   task rate    r_task  = c / d                              batches/s one task finishes unthrottled
 *   quota rate   r_quota = min(rpm' / 60 / calls,             requests: batches/s the RPM admits
 *                              tpm' / 60 / S,                 throughput: settled tokens per minute
 *                              floor(tpm' / R) / d)           reservations: batches in flight (r * d) * R <= tpm'
 *   max useful tasks      = ceil(r_quota / r_task)             more only wait on the limiter
 *   batches in flight     = ceil(r_quota * d)                  the same bound for Lambda
 *   tasks for backlog B by deadline D = ceil(B / D / r_task), at most the max useful tasks
 *   backlog-per-task target = acceptable latency * r_task     = latency / (d / c)
 *
 * Without O, b, R and s the formula is the plain one (S = T, no reservation bound, the whole
 * quota): right for a burn-down of 1 and batches of under a minute with maxTokens sized to
 * the answers. For a Claude 4.x model S is nearly twice T on a labelling batch (3,000 output
 * tokens of 12,000 burn 15,000: S = 24,000), so the quota feeds half the tasks. The
 * reservation bound binds when d > 60 s x S / R, sooner when maxTokens is far above the
 * answer (left at the model's cap). Reservations are whole (floor: a batch whose reservation
 * does not fit waits), unless not even one batch's calls fit at once, when the fraction is
 * kept. Both bounds hold at once in Bedrock's minute (running calls hold R, calls that ended
 * within it their settled cost), so where the two are close the real ceiling sits a little
 * lower; the limiter, which keeps the same window, holds back the surplus.
 *
 * d is measured (the `labelq_batch_duration_seconds` histogram, or the "batch labelled" log's
 * durationMs) on an unthrottled worker; calls, T, O, b and R come from `labelq estimate`
 * (one clean pass; re-asks add calls), which prints them.
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
  /**
   * Tokens one batch uses: input (+ cache writes) + output. Without outputTokensPerBatch and
   * outputBurnDown this is also what it costs the TPM quota once its calls settle.
   */
  tokensPerBatch: number;
  /** The output part of tokensPerBatch, which the model's burn-down rate weighs. Default 0. */
  outputTokensPerBatch?: number;
  /** Quota tokens each output token burns (model catalogue `quota.outputBurnDown`: Claude 4.x 5). Default 1. */
  outputBurnDown?: number;
  /**
   * Tokens the batch's calls reserve against TPM while they run, all at once: input + cache +
   * maxTokens per call, times the calls in flight together. Default: the reservation bound is left out.
   */
  reservedTokensPerBatch?: number;
  /** Wall time of one batch on an unthrottled worker. */
  secondsPerBatch: number;
}

export interface FleetInputs extends BatchProfile {
  quota: Quota;
  /** Batches one task runs at once (LABELQ_CONCURRENCY). */
  concurrency: number;
  /** The share of the quota labelq may use when other workloads call the same model (0 < share <= 1). Default 1. */
  quotaShare?: number;
}

/** Which bound of the quota binds first. */
export type BindingLimit = "rpm" | "tpm" | "reservation" | "none";

export interface FleetCapacity {
  /** Batches per second one task finishes when nothing throttles it. */
  taskBatchesPerS: number;
  /** Batches per second the quota admits across the fleet; Infinity without a quota. */
  quotaBatchesPerS: number;
  /** Tasks beyond this only hold messages and raise latency; undefined without a quota. */
  maxUsefulTasks: number | undefined;
  /** Batches in flight the quota keeps busy (Lambda's concurrency bound); undefined without a quota. */
  maxUsefulInFlight: number | undefined;
  /** Batches whose reservations fit the TPM quota at once; undefined without a TPM quota or a reservation. */
  maxInFlightByReservation: number | undefined;
  /** What one batch costs the TPM quota once settled: input + cache writes + output x burn-down. */
  settledTokensPerBatch: number;
  /** The share of the quota the figures use. */
  quotaShare: number;
  /** Which bound binds first. */
  bindingLimit: BindingLimit;
}

function positive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be a positive number, not ${value}`);
}

/** Check a quota share: above 0 and at most 1. Throws a RangeError naming the value. */
export function checkQuotaShare(share: number): number {
  if (!(Number.isFinite(share) && share > 0 && share <= 1)) throw new RangeError(`quotaShare must be above 0 and at most 1 (the share of the quota labelq may use), not ${share}`);
  return share;
}

/** The settled quota cost of one batch: tokensPerBatch with its output part weighed by the burn-down rate. */
export function settledTokensPerBatch(profile: Pick<BatchProfile, "tokensPerBatch" | "outputTokensPerBatch" | "outputBurnDown">): number {
  positive("tokensPerBatch", profile.tokensPerBatch);
  const burnDown = profile.outputBurnDown ?? 1;
  if (!(Number.isFinite(burnDown) && burnDown >= 1)) throw new RangeError(`outputBurnDown must be a number of at least 1, not ${burnDown}`);
  const output = profile.outputTokensPerBatch;
  if (output === undefined) {
    // Which tokens are output is unknown: a burn-down above 1 cannot be applied, and guessing would hide it.
    if (burnDown !== 1) throw new RangeError(`outputBurnDown ${burnDown} needs outputTokensPerBatch: the output part of tokensPerBatch it weighs`);
    return profile.tokensPerBatch;
  }
  if (!(Number.isFinite(output) && output >= 0 && output <= profile.tokensPerBatch)) {
    throw new RangeError(`outputTokensPerBatch must be from 0 to tokensPerBatch (${profile.tokensPerBatch}), not ${output}`);
  }
  return profile.tokensPerBatch + output * (burnDown - 1);
}

/** Whole batches of a count (floor, with float slack), or the fraction when not even one fits. */
function wholeBatches(x: number): number {
  return x >= 1 ? Math.floor(x + 1e-9) : x;
}

/** The fleet's throughput limits: per task, under the quota, and the task count past which adding tasks stops helping. */
export function fleetCapacity(inputs: FleetInputs): FleetCapacity {
  positive("callsPerBatch", inputs.callsPerBatch);
  positive("secondsPerBatch", inputs.secondsPerBatch);
  positive("concurrency", inputs.concurrency);
  if (inputs.reservedTokensPerBatch !== undefined) positive("reservedTokensPerBatch", inputs.reservedTokensPerBatch);
  const quotaShare = checkQuotaShare(inputs.quotaShare ?? 1);
  const settled = settledTokensPerBatch(inputs);
  const rpm = inputs.quota.rpm * quotaShare;
  const tpm = inputs.quota.tpm * quotaShare;
  const taskBatchesPerS = inputs.concurrency / inputs.secondsPerBatch;
  const byRpm = rpm > 0 ? rpm / 60 / inputs.callsPerBatch : Infinity;
  const byTpm = tpm > 0 ? tpm / 60 / settled : Infinity;
  const maxInFlightByReservation = tpm > 0 && inputs.reservedTokensPerBatch !== undefined ? wholeBatches(tpm / inputs.reservedTokensPerBatch) : undefined;
  // Little's law: batches in flight = rate x time per batch, so a cap on those in flight is a cap on the rate.
  const byReservation = maxInFlightByReservation === undefined ? Infinity : maxInFlightByReservation / inputs.secondsPerBatch;
  const quotaBatchesPerS = Math.min(byRpm, byTpm, byReservation);
  const common = { taskBatchesPerS, quotaBatchesPerS, maxInFlightByReservation, settledTokensPerBatch: settled, quotaShare };
  if (quotaBatchesPerS === Infinity) return { ...common, maxUsefulTasks: undefined, maxUsefulInFlight: undefined, bindingLimit: "none" };
  return {
    ...common,
    // A small epsilon keeps exact multiples (4.000000001 from float division) from rounding up a task.
    maxUsefulTasks: Math.max(1, Math.ceil(quotaBatchesPerS / taskBatchesPerS - 1e-9)),
    maxUsefulInFlight: Math.max(1, Math.ceil(quotaBatchesPerS * inputs.secondsPerBatch - 1e-9)),
    bindingLimit: byRpm === quotaBatchesPerS ? "rpm" : byTpm === quotaBatchesPerS ? "tpm" : "reservation",
  };
}

export interface FleetPlan {
  /** The batch profile and quota the plan was made from. */
  inputs: FleetInputs;
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
  return { inputs, capacity, tasks, tasksForDeadline, meetsDeadline: drainS <= deadlineS * (1 + 1e-9), drainS };
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
 * One batch of an estimate on one model, as the fleet formula takes it: calls, tokens, their
 * output part with the model's burn-down rate, and what the calls reserve (input + cache +
 * maxTokens, as planCall plans them) while they run. Averages over the estimate's batches.
 */
export function batchProfileForEstimate(estimate: Estimate, model: string): Omit<BatchProfile, "secondsPerBatch"> {
  const m = estimate.models.find((x) => x.model.alias === model);
  if (!m) throw new RangeError(`no estimate for model ${model}`);
  const batches = Math.max(1, estimate.batches);
  const tokensPerBatch = Math.max(1, (m.inputTokens + m.outputTokens) / batches);
  return {
    callsPerBatch: Math.max(1, m.calls / batches),
    tokensPerBatch,
    outputTokensPerBatch: Math.min(tokensPerBatch, m.outputTokens / batches),
    outputBurnDown: m.model.outputBurnDown,
    // A batch's chunks are asked together (classify-items), so their reservations are held at once.
    reservedTokensPerBatch: m.reservedTokens > 0 ? m.reservedTokens / batches : undefined,
  };
}

/**
 * The fleet for the batches of an estimate (`labelq estimate`), on one model: the batch
 * profile from the estimate (batchProfileForEstimate), seconds per batch from a measurement.
 */
export function fleetForEstimate(
  estimate: Estimate,
  o: { model: string; quota: Quota; quotaShare?: number; concurrency: number; secondsPerBatch: number; deadlineS: number },
): FleetPlan {
  return fleetForDeadline(
    { ...batchProfileForEstimate(estimate, o.model), quota: o.quota, quotaShare: o.quotaShare, concurrency: o.concurrency, secondsPerBatch: o.secondsPerBatch },
    estimate.batches,
    o.deadlineS,
  );
}

const BINDS: Record<BindingLimit, string> = {
  none: "no quota",
  rpm: "requests per minute bind first",
  tpm: "tokens per minute, settled, bind first",
  reservation: "reservations bind first: no more batches' input + maxTokens fit tokens per minute at once",
};

/** A fleet plan as lines for the terminal. */
export function formatFleetPlan(plan: FleetPlan, backlogBatches: number, deadlineS: number, concurrency: number): string {
  const c = plan.capacity;
  const p = plan.inputs;
  const n = (x: number) => Math.round(x).toLocaleString("en-US");
  const minutes = (s: number) => (s < 120 ? `${Math.round(s)} s` : `${(s / 60).toFixed(1)} min`);
  const burnDown = p.outputBurnDown ?? 1;
  const output = p.outputTokensPerBatch === undefined ? "" : ` (${n(p.outputTokensPerBatch)} output x ${burnDown} burn-down)`;
  const reserved = p.reservedTokensPerBatch === undefined ? "" : `, ${n(p.reservedTokensPerBatch)} reserved while its calls run`;
  const share = `${+(c.quotaShare * 100).toFixed(1)}%`;
  const limit = (x: number, unit: string) => (x > 0 ? `${n(x)} ${unit}` : `no ${unit} limit`);
  const lines = [
    `fleet for ${backlogBatches} batches within ${minutes(deadlineS)} (${concurrency} batches at once per worker):`,
    `  one batch: ${p.callsPerBatch.toFixed(1)} calls, ${n(p.tokensPerBatch)} tokens${output}: ${n(c.settledTokensPerBatch)} quota tokens settled${reserved}`,
    `  one worker: ${(c.taskBatchesPerS * 60).toFixed(1)} batches/min unthrottled`,
    `  quota share: ${share} of ${limit(p.quota.rpm, "RPM")} / ${limit(p.quota.tpm, "TPM")} (--quota-share)`,
    c.maxUsefulTasks === undefined
      ? "  quota: none configured (LABELQ_QUOTA_RPM / LABELQ_QUOTA_TPM / LABELQ_QUOTAS): no ceiling on workers"
      : `  quota: ${(c.quotaBatchesPerS * 60).toFixed(1)} batches/min, ${c.maxUsefulInFlight} in flight (${BINDS[c.bindingLimit]}); more than ${c.maxUsefulTasks} workers only wait on the limiter`,
    `  workers: ${plan.tasks}${plan.tasks < plan.tasksForDeadline ? ` (the deadline alone would ask for ${plan.tasksForDeadline})` : ""}; drain time ~${minutes(plan.drainS)}`,
  ];
  if (!plan.meetsDeadline) lines.push("  the deadline cannot be met within this quota: raise the quota (Service Quotas) or move the deadline");
  return lines.join("\n");
}
