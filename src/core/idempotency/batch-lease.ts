import type { LabelResult } from "../contracts/result.ts";
import type { IdempotencyStore } from "./idempotency-store.ts";

/** This worker's hold on one batch, taken by a successful claim. */
export interface BatchLease {
  /** Extend the lease; false when another worker has taken it over. */
  renew(): Promise<boolean>;
  /** Mark the batch COMPLETED with its result; false when the lease was lost first. */
  complete(result: LabelResult): Promise<boolean>;
  /** Give the lease up after a failure so that a retry can claim at once. */
  release(): Promise<void>;
}

/** The lease on a claimed batch record: every call names this owner and lease length. */
export function storeLease(store: IdempotencyStore, batchId: string, owner: string, leaseMs: number): BatchLease {
  return {
    renew: () => store.extend(batchId, owner, leaseMs),
    complete: (result) => store.complete(batchId, owner, result),
    release: () => store.release(batchId, owner),
  };
}

/**
 * A lease that guards nothing, for when there is no batch record (no table configured, the
 * store unreachable, or a completed batch whose result must be rebuilt): it never loses.
 */
export const UNGUARDED_LEASE: BatchLease = {
  renew: () => Promise.resolve(true),
  complete: () => Promise.resolve(true),
  release: () => Promise.resolve(),
};
