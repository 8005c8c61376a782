import type { Logger } from "pino";
import type { LabelBatchSettings } from "../../core/classify/label-batch.ts";
import type { BulkConfig } from "../../core/config/config.ts";
import type { LabelRequest } from "../../core/contracts/request.ts";
import type { LabelResult } from "../../core/contracts/result.ts";
import type { Metrics } from "../../core/observability/metrics.ts";
import type { PromptRegistry } from "../../core/prompts/prompt-registry.ts";
import type { IdempotencyStore } from "../../core/idempotency/idempotency-store.ts";
import type { LabelCache } from "../../core/cache/label-cache.ts";
import type { BulkStore } from "../../core/bulk/bulk-store.ts";
import type { JobControl } from "../../adapters/bedrock/job-control.ts";
import type { ObjectStore } from "../../adapters/s3/object-store.ts";
import type { Outbox } from "./outbox.ts";
import type { Clock } from "../../core/util/clock.ts";

/** Labels a request on the live path (labelRoutedBatch): the re-ask of texts a job did not label. */
export type LiveLabelFn = (request: LabelRequest, receivedAt: Date, signal: AbortSignal) => Promise<LabelResult>;

/** Everything the bulk loop's steps use, built once by the worker (src/app/worker/worker.ts). */
export interface BulkContext {
  store: BulkStore;
  objects: ObjectStore;
  control: JobControl;
  prompts: PromptRegistry;
  /** The live path's settings: catalogue, default taxonomy, version and model, chunk size. */
  settings: LabelBatchSettings;
  /**
   * The bulk settings. maxWaitS (LABELQ_BULK_MAX_WAIT_S), how long a batch may wait while its model
   * has LABELQ_BULK_MAX_JOBS jobs open before it goes live: absent, it waits without a bound.
   */
  bulk: Pick<BulkConfig, "prefix" | "roleArn" | "gatherS" | "limits" | "jobTimeoutH" | "onJobFailure"> & Partial<Pick<BulkConfig, "maxWaitS">>;
  /** Results, batches handed to the live path, the DLQ (SqsOutbox). */
  outbox: Outbox;
  idempotency?: IdempotencyStore;
  cache?: LabelCache;
  /** Re-ask texts live. */
  label: LiveLabelFn;
  /** Identifies this worker as the owner of leases (batch records, job collection). */
  owner: string;
  /** How long a batch lease and a job's collector lease last. */
  leaseMs: number;
  logger: Logger;
  metrics?: Metrics;
  now: () => number;
  /** What the steps wait on (the collector lease's renewals): the bulk loop's clock, the system clock when absent. */
  clock?: Pick<Clock, "sleep">;
}
