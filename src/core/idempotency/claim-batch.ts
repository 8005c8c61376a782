import type { Logger } from "pino";
import type { LabelResult } from "../contracts/result.ts";
import { StoreError } from "../errors/errors.ts";
import { type BatchLease, storeLease, UNGUARDED_LEASE } from "./batch-lease.ts";
import type { IdempotencyStore } from "./idempotency-store.ts";

/**
 * What claiming a batch gives the handler:
 * - leased: this worker does the work under `lease`;
 * - completed: done before; `result` is to be published again;
 * - in-progress: another worker holds a live lease until `leaseExpiresAt` (epoch ms);
 * - conflict: the batchId was used before with a different payload.
 */
export type Claim =
  | { kind: "leased"; lease: BatchLease }
  | { kind: "completed"; result: LabelResult }
  | { kind: "in-progress"; leaseExpiresAt: number }
  | { kind: "conflict"; storedPayloadHash: string };

/**
 * Claim a batch's idempotency record. Without a store, or when the store is unavailable, the
 * batch is processed under a lease that guards nothing: a possible duplicate costs model
 * calls, a stalled pipeline costs more. Any other error (a bug, a corrupt record) is thrown.
 */
export async function claimBatch(
  store: IdempotencyStore | undefined,
  claim: { batchId: string; payloadHash: string; owner: string; leaseMs: number },
  log: Logger,
): Promise<Claim> {
  if (!store) return { kind: "leased", lease: UNGUARDED_LEASE };
  try {
    const outcome = await store.claim(claim.batchId, claim.payloadHash, claim.owner, claim.leaseMs);
    switch (outcome.kind) {
      case "claimed":
        return { kind: "leased", lease: storeLease(store, claim.batchId, claim.owner, claim.leaseMs) };
      case "completed":
        if (outcome.result) return { kind: "completed", result: outcome.result };
        // The result was too large to store or cannot be read: rebuild it (from the label cache).
        log.info("batch completed before but its result was not stored or cannot be read: rebuilding it");
        return { kind: "leased", lease: UNGUARDED_LEASE };
      case "in-progress":
      case "conflict":
        return outcome;
    }
  } catch (error) {
    if (!(error instanceof StoreError)) throw error;
    log.warn({ err: error }, "batch records unavailable; processing without the idempotency guard");
    return { kind: "leased", lease: UNGUARDED_LEASE };
  }
}
