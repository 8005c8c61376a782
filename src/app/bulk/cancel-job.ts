import type { BulkStore, JobRecord } from "../../core/bulk/bulk-store.ts";
import type { JobControl } from "../../adapters/bedrock/job-control.ts";

/** What `labelq jobs cancel` did. */
export type CancelOutcome = { kind: "stopping"; job: JobRecord } | { kind: "not-submitted"; job: JobRecord } | { kind: "ended"; job: JobRecord } | { kind: "unknown" };

/**
 * Ask for a job to stop. A job with an ARN is stopped on Bedrock (StopModelInvocationJob: records
 * done so far are billed and collected; the rest follow LABELQ_BULK_ON_JOB_FAILURE). A job without
 * one is only marked: CreateModelInvocationJob may already have been called for it (a worker in
 * the middle of submitting, or one that crashed after calling), so the loop submits it with its
 * clientRequestToken (which returns that job if it exists, or makes it), records the ARN and stops
 * the job at once. The worker submitting meanwhile stores the ARN despite the cancel (it retries a
 * write that lost the version race), and stops the job.
 */
export async function cancelJob(store: BulkStore, control: JobControl, jobKey: string): Promise<CancelOutcome> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const job = await store.getJob(jobKey);
    if (!job) return { kind: "unknown" };
    if (job.state === "collecting" || job.state === "done") return { kind: "ended", job };
    const marked = job.cancelRequested ? job : await store.updateJob(job, { cancelRequested: true });
    if (!marked) continue;
    if (!marked.jobArn) return { kind: "not-submitted", job: marked };
    await control.stop(marked.jobArn);
    return { kind: "stopping", job: marked };
  }
  return { kind: "unknown" };
}
