import { pollJob, submitJob } from "./job-steps.ts";
import type { BulkContext } from "./bulk-context.ts";
import type { JobRecord } from "../../core/bulk/bulk-store.ts";
import { collectJob } from "./collect-job.ts";

/** Move a job on by as many steps as it can take now: submit, poll, collect. */
export async function advanceJob(ctx: BulkContext, job: JobRecord, signal: AbortSignal): Promise<void> {
  let current: JobRecord | undefined = job;
  if (current.state === "submitting") current = await submitJob(ctx, current);
  if (current?.state === "running") current = await pollJob(ctx, current);
  if (current?.state === "collecting") await collectJob(ctx, current, signal);
}
