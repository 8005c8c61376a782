import type { LabelResult } from "../contracts/result.ts";

/**
 * What claiming a batch found:
 * - claimed: this worker holds the lease and does the work;
 * - completed: done before; `result` is the stored result when it fitted in the record and reads back;
 * - in-progress: another worker holds a live lease until `leaseExpiresAt` (epoch ms);
 * - conflict: the batchId was used before with a different payload.
 */
export type ClaimOutcome =
  | { kind: "claimed" }
  | { kind: "completed"; result: LabelResult | undefined }
  | { kind: "in-progress"; leaseExpiresAt: number }
  | { kind: "conflict"; storedPayloadHash: string };

/** Batch idempotency records with a lease, on conditional writes only (no transactions). */
export interface IdempotencyStore {
  /** Take the batch's lease for `leaseMs`, or say why not. Throws StoreError when the store is unreachable. */
  claim(batchId: string, payloadHash: string, owner: string, leaseMs: number): Promise<ClaimOutcome>;
  /** Extend this owner's lease; false when the lease was lost to another worker. */
  extend(batchId: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Mark the batch COMPLETED with its result, if this owner still holds the lease; false otherwise. */
  complete(batchId: string, owner: string, result: LabelResult): Promise<boolean>;
  /** Give the lease up after a failure so a retry can claim at once. Best effort. */
  release(batchId: string, owner: string): Promise<void>;
}
