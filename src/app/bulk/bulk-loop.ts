import { advanceJob } from "./advance-job.ts";
import { assembleJobs } from "./assemble-jobs.ts";
import { finishHandOffs } from "./hand-off.ts";
import type { BulkContext } from "./bulk-context.ts";
import { type Clock, systemClock } from "../../core/util/clock.ts";
import type { JobRecord } from "../../core/bulk/bulk-store.ts";
import { releaseSlotWaiters, type SlotWait } from "./slot-wait.ts";

/**
 * The bulk loop, next to the SQS consumer in every worker. Each pass, every `pollMs`:
 *   1. finish hand-offs of batches taken from pending that a crash or a failed send interrupted;
 *      send live the batches that waited LABELQ_BULK_MAX_WAIT_S for a job slot of a full model;
 *      gather waiting batches into jobs (or send them live), resuming stale assemblies;
 *   2. submit assembled jobs (with their recorded clientRequestToken);
 *   3. poll running jobs;
 *   4. collect ended jobs: publish their batches, re-ask what they did not label.
 * Every step is a conditional write on the job or batch record, so any number of workers may run
 * the loop at once, and a worker that restarts picks up every job where the records left it.
 */
export class BulkLoop {
  readonly #ctx: BulkContext;
  readonly #pollMs: number;
  /** Waits between passes; the time the steps read is ctx.now (tests give both the same fake clock). */
  readonly #clock: Pick<Clock, "sleep">;
  #stop = new AbortController();
  #running: Promise<void> | undefined;
  #counts: { state: string; status: string; count: number }[] = [];
  #slotWaits: SlotWait[] = [];

  constructor(ctx: BulkContext, pollMs: number, clock: Pick<Clock, "sleep"> = systemClock) {
    // The steps wait on the loop's clock (the collector lease's renewals) unless given their own.
    this.#ctx = ctx.clock ? ctx : { ...ctx, clock };
    this.#pollMs = pollMs;
    this.#clock = clock;
    ctx.metrics?.observeBulkJobs(() => this.#counts);
    ctx.metrics?.observeBulkSlotWaits(() => this.#slotWaits);
  }

  /** Start passes; idempotent. */
  start(): void {
    if (this.#running) return;
    this.#stop = new AbortController();
    const signal = this.#stop.signal;
    this.#running = (async () => {
      while (!signal.aborted) {
        await this.runOnce(signal).catch((error: unknown) => {
          if (!signal.aborted) this.#ctx.logger.error({ err: error }, "bulk loop pass failed; trying again on the next");
        });
        await this.#clock.sleep(this.#pollMs, signal).catch(() => undefined);
      }
    })();
  }

  /** Stop after the step in progress (every step is safe to interrupt between writes). */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
    this.#running = undefined;
  }

  /** One pass over every job and waiting batch (tests and the demo call it directly). */
  async runOnce(signal: AbortSignal = new AbortController().signal): Promise<void> {
    const ctx = this.#ctx;
    await finishHandOffs(ctx, signal);
    const before = await ctx.store.jobs();
    this.#slotWaits = await releaseSlotWaiters(ctx, before, signal);
    await assembleJobs(ctx, before, signal);
    const jobs = await ctx.store.jobs();
    for (const job of jobs) {
      signal.throwIfAborted();
      if (job.state !== "done") await advanceJob(ctx, job, signal);
    }
    this.#counts = countJobs(await ctx.store.jobs());
  }
}

function countJobs(jobs: readonly JobRecord[]): { state: string; status: string; count: number }[] {
  const counts = new Map<string, { state: string; status: string; count: number }>();
  for (const j of jobs) {
    const status = j.bedrockStatus ?? "none";
    const key = `${j.state}/${status}`;
    const c = counts.get(key) ?? { state: j.state, status, count: 0 };
    c.count += 1;
    counts.set(key, c);
  }
  return [...counts.values()];
}
