/**
 * Types of the model invocation jobs the emulator runs, in a file of their own (no imports) so the
 * emulator's public types can name them without import cycles.
 */

/** ModelInvocationJobStatus, as the service model lists it. */
export const JOB_STATUSES = ["Submitted", "InProgress", "Completed", "Failed", "Stopping", "Stopped", "PartiallyCompleted", "Expired", "Validating", "Scheduled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** A job as GetModelInvocationJob and ListModelInvocationJobs return it (timestamps as Date here, ISO 8601 on the wire). */
export interface JobView {
  jobArn: string;
  jobName: string;
  modelId: string;
  clientRequestToken?: string;
  roleArn: string;
  status: JobStatus;
  message?: string;
  submitTime: Date;
  lastModifiedTime: Date;
  endTime?: Date;
  inputDataConfig: Record<string, unknown>;
  outputDataConfig: Record<string, unknown>;
  timeoutDurationInHours: number;
  jobExpirationTime: Date;
  modelInvocationType?: string;
  totalRecordCount?: number;
  processedRecordCount?: number;
  successRecordCount?: number;
  errorRecordCount?: number;
}

/** One status a job took: when, and after how long a step waited (for statuses a step led to; none for a Stop). */
export interface JobTransition {
  status: JobStatus;
  at: Date;
  stepMs?: number;
}
