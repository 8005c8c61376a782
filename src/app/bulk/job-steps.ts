import { StoreError, toLabelqError } from "../../core/errors/errors.ts";
import type { BulkContext } from "./bulk-context.ts";
import type { JobRecord, RecordedSubmission } from "../../core/bulk/bulk-store.ts";
import { ENDED_STATUSES, jobIdOf, type JobSubmission } from "../../adapters/bedrock/job-control.ts";
import { s3Uri } from "../../adapters/s3/object-store.ts";

type SubmissionSettings = { bulk: Pick<BulkContext["bulk"], "roleArn" | "jobTimeoutH">; objects: Pick<BulkContext["objects"], "bucket"> };

/** The role, bucket and timeout the configuration gives a job now: what a new job record holds. */
export function configuredSubmission(ctx: SubmissionSettings): RecordedSubmission {
  return { roleArn: ctx.bulk.roleArn ?? "", bucket: ctx.objects.bucket, timeoutHours: ctx.bulk.jobTimeoutH };
}

/**
 * What a job is submitted with, all from its record: the model id, the job name (unique per
 * labelq job), the clientRequestToken, the input and output prefixes, and the role, bucket and
 * timeout recorded when the job was created, so a retried or adopted submission sends what the
 * first one sent even if the catalogue or the bulk settings changed meanwhile (a Create with the
 * same token and other parameters is refused). A record written before the role, bucket and
 * timeout were kept is submitted with the configuration's.
 */
export function submissionOf(ctx: SubmissionSettings, job: JobRecord): JobSubmission {
  const { roleArn, bucket, timeoutHours } = job.submission ?? configuredSubmission(ctx);
  return {
    jobName: job.jobName,
    modelId: job.modelId,
    roleArn,
    clientRequestToken: job.clientRequestToken,
    inputUri: s3Uri(bucket, job.inputPrefix),
    outputUri: s3Uri(bucket, job.outputPrefix),
    timeoutHours,
  };
}

/**
 * Submit a job whose files are written. The job's name and clientRequestToken were recorded with
 * it before this call. A worker that crashed between Bedrock's answer and recording the ARN does
 * not rely on what a repeated token answers (the API reference promises no error, not the ARN):
 * control.create first looks for a job of that name and adopts it, so there is never a second
 * billed job. A refusal that cannot change (ValidationException: too few records, a model without
 * batch inference, a role Bedrock cannot assume), with no job of that name, ends the job at once;
 * its batches go live or to the DLQ. A throttle or an outage leaves it submitting for the next pass.
 */
export async function submitJob(ctx: BulkContext, job: JobRecord): Promise<JobRecord | undefined> {
  const log = ctx.logger.child({ jobKey: job.jobKey });
  // A cancelled job is still submitted: an earlier Create (a crashed worker, or one racing with the
  // cancel) may have made the job, and only this call finds it. It is stopped at once.
  let submitted: { jobArn: string; adopted?: boolean };
  try {
    submitted = await ctx.control.create(submissionOf(ctx, job));
  } catch (error) {
    const e = toLabelqError(error);
    if (e.retryable) {
      log.warn({ err: error, code: e.code }, "bulk job submission failed; trying again on the next pass (same clientRequestToken)");
      return undefined;
    }
    log.error({ code: e.code, reason: e.message }, "bulk job refused by Bedrock");
    return ctx.store.updateJob(job, { state: "collecting", bedrockStatus: "Failed", message: `CreateModelInvocationJob refused the job: ${e.message}`, endedAt: new Date(ctx.now()).toISOString() });
  }
  const { jobArn, adopted = false } = submitted;
  // A crash before this write leaves the job submitting: the next pass finds the job by name.
  const next = await recordArn(ctx, job, jobArn);
  if (!next) return undefined;
  log.info({ jobArn, records: job.records, batches: job.batches, adopted }, adopted ? "bulk job found by name and adopted (an earlier submission made it)" : "bulk job submitted");
  if (next.cancelRequested) {
    log.info({ jobArn }, "stopping the bulk job an operator cancelled while it was submitted");
    await ctx.control.stop(jobArn).catch((error: unknown) => log.warn({ err: error }, "could not stop the cancelled bulk job; trying again on the next pass"));
  }
  return next;
}

/**
 * Store the ARN of a job Bedrock has made. A write that loses a version race (labelq jobs cancel
 * set its flag meanwhile) reads the record again and retries: a billed job is never left
 * untracked. A job another worker already moved on keeps its state and gets the ARN.
 */
async function recordArn(ctx: BulkContext, job: JobRecord, jobArn: string): Promise<JobRecord | undefined> {
  let current: JobRecord | undefined = job;
  for (let attempt = 0; attempt < 10 && current; attempt++) {
    if (current.jobArn) return current.jobArn === jobArn ? current : undefined;
    const changes = current.state === "submitting" ? { state: "running" as const, jobArn, bedrockStatus: "Submitted", submittedAt: new Date(ctx.now()).toISOString() } : { jobArn };
    const next = await ctx.store.updateJob(current, changes);
    if (next) return next;
    current = await ctx.store.getJob(job.jobKey);
  }
  throw new StoreError(`Could not record the ARN ${jobArn} of bulk job ${job.jobKey}; the next pass finds the job by its name ${job.jobName}`);
}

/**
 * Poll a running job; once it has ended, mark it collecting. A poll that fails for a retryable
 * reason waits for the next pass; one that cannot succeed (toLabelqError: not retryable) ends the
 * job as Failed with the reason, so its batches go live or to the DLQ.
 */
export async function pollJob(ctx: BulkContext, job: JobRecord): Promise<JobRecord | undefined> {
  if (!job.jobArn) return undefined;
  const log = ctx.logger.child({ jobKey: job.jobKey, jobId: jobIdOf(job.jobArn) });
  // A cancel that raced with the submission: stop it now (the cancel found no ARN yet).
  if (job.cancelRequested && !ENDED_STATUSES.has(job.bedrockStatus ?? "") && job.bedrockStatus !== "Stopping") {
    await ctx.control.stop(job.jobArn).catch((error: unknown) => log.warn({ err: error }, "could not stop the cancelled bulk job; trying again on the next pass"));
  }
  let status;
  try {
    status = await ctx.control.get(job.jobArn);
  } catch (error) {
    const e = toLabelqError(error);
    if (e.retryable) {
      log.warn({ err: error }, "could not read the bulk job's status; polling again on the next pass");
      return undefined;
    }
    log.error({ code: e.code, reason: e.message }, "the bulk job's status cannot be read; ending it as failed");
    return ctx.store.updateJob(job, { state: "collecting", bedrockStatus: "Failed", message: `GetModelInvocationJob failed: ${e.message}`, endedAt: new Date(ctx.now()).toISOString() });
  }
  const ended = ENDED_STATUSES.has(status.status);
  if (!ended && status.status === job.bedrockStatus) return job;
  const next = await ctx.store.updateJob(job, {
    bedrockStatus: status.status,
    message: status.message,
    ...(ended ? { state: "collecting" as const, endedAt: (status.endTime ?? new Date(ctx.now())).toISOString() } : {}),
  });
  if (next) log.info({ status: status.status, message: status.message }, ended ? "bulk job ended" : "bulk job status changed");
  return next;
}
