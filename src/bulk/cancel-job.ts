import type { BulkStore, JobRecord } from "./bulk-store.ts";
import type { JobControl } from "./job-control.ts";

/** What `labelq jobs cancel` did. */
export type CancelOutcome = { kind: "stopping"; job: JobRecord } | { kind: "not-submitted"; job: JobRecord } | { kind: "ended"; job: JobRecord } | { kind: "unknown" };

/**
 * Ask for a job to stop. A submitted job is stopped on Bedrock (StopModelInvocationJob: records
 * done so far are billed and collected; the rest follow LABELQ_BULK_ON_JOB_FAILURE). A job not
 * yet submitted is marked, and the loop ends it without submitting. The flag is set first, so a
 * submission racing with the cancel is stopped on the loop's next pass.
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
