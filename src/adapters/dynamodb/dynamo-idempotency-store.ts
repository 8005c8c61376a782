import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { gunzipSync, gzipSync } from "node:zlib";
import { type LabelResult, resultSchema } from "../../core/contracts/result.ts";
import { StoreError } from "../../core/errors/errors.ts";
import type { ClaimOutcome, IdempotencyStore } from "../../core/idempotency/idempotency-store.ts";
import { getUnexpired, isExpired, itemOfRefusal } from "./unexpired.ts";

/**
 * DynamoDB items are at most 400 KB. A result is stored gzipped when it fits under this
 * bound (a 100-text, 25-dimension result is ~10-20 KB gzipped); larger ones are rebuilt
 * from the label cache on a duplicate delivery instead.
 */
const MAX_STORED_RESULT_BYTES = 300_000;

/**
 * IdempotencyStore on a DynamoDB table with partition key `batchId`.
 *
 * The lease is one conditional put:
 *
 *   worker A  put IN_PROGRESS, lease=t+L  if (absent | lease expired & same payload | record expired)  -> claimed
 *   worker B  same put                    -> condition fails, returns the item: IN_PROGRESS, lease live -> in-progress (retry later)
 *   worker A  update lease=t'+L           if owner=A & IN_PROGRESS   (heartbeat)
 *   worker A  update COMPLETED + result   if owner=A & IN_PROGRESS
 *   worker B  put ...                     -> condition fails, returns the item: COMPLETED               -> completed (republish)
 *   A dies:   lease expires; the next delivery's put succeeds and finishes the batch.
 */
export class DynamoIdempotencyStore implements IdempotencyStore {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #recordTtlS: number;
  readonly #now: () => number;

  constructor(db: DynamoDBDocumentClient, table: string, recordTtlDays: number, now: () => number = Date.now) {
    this.#db = db;
    this.#table = table;
    this.#recordTtlS = recordTtlDays * 86_400;
    this.#now = now;
  }

  /** Conditional claims refused, by where the stored record was read from (see conditionReads). */
  readonly #conditionReads = { fromFailure: 0, readAfterFailure: 0 };

  async claim(batchId: string, payloadHash: string, owner: string, leaseMs: number): Promise<ClaimOutcome> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const refused = await this.#putClaim(batchId, payloadHash, owner, leaseMs);
      if (!refused) return { kind: "claimed" };
      const existing = await this.#recordOf(batchId, refused);
      if (!existing) continue; // Deleted (released) or expired in between: try again.
      const outcome = outcomeFor(existing, payloadHash, this.#now());
      if (outcome) return outcome;
      // The lease expired between our put and the read: try again.
    }
    throw new StoreError(`Could not claim batch ${batchId}: the record kept changing`);
  }

  /**
   * How often a refused claim found the stored record in the refusal itself (DynamoDB returns it
   * for ReturnValuesOnConditionCheckFailure) and how often it had to read it again (a store that
   * leaves the parameter out, such as dynalite); see #recordOf.
   */
  conditionReads(): { fromFailure: number; readAfterFailure: number } {
    return { ...this.#conditionReads };
  }

  /** The conditional put that takes the lease; the refusal when the record is held, completed or someone else's. */
  async #putClaim(batchId: string, payloadHash: string, owner: string, leaseMs: number): Promise<ConditionalCheckFailedException | undefined> {
    const now = this.#now();
    try {
      await this.#db.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            batchId,
            status: "IN_PROGRESS",
            payloadHash,
            leaseOwner: owner,
            leaseExpiresAt: now + leaseMs,
            updatedAt: new Date(now).toISOString(),
            expiresAt: Math.floor(now / 1000) + this.#recordTtlS,
          },
          ConditionExpression:
            "attribute_not_exists(batchId) OR expiresAt < :nowS OR (#s = :inProgress AND leaseExpiresAt < :now AND payloadHash = :ph)",
          ExpressionAttributeNames: { "#s": "status" },
          ExpressionAttributeValues: { ":now": now, ":nowS": Math.floor(now / 1000), ":inProgress": "IN_PROGRESS", ":ph": payloadHash },
          // The refusal carries the record that refused it: no second round trip to learn why.
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return error;
      throw storeError("claim", batchId, error);
    }
  }

  /**
   * The record that refused a claim: the one the refusal carries. DynamoDB always sends it (the
   * condition can only fail on an existing item). dynalite 4.0.0, the embedded test store, does
   * not: its request validation drops parameters it does not know
   * (validations/index.js checkTypes), ReturnValuesOnConditionCheckFailure among them, and its
   * ConditionalCheckFailedException has no Item (db/index.js conditionalError; dynalite issue
   * #182). Only then is the record read again, strongly consistent, and counted in
   * conditionReads().readAfterFailure. DynamoDB Local sends it from 2.2.0 (LocalStack too).
   */
  async #recordOf(batchId: string, refused: ConditionalCheckFailedException): Promise<Record<string, unknown> | undefined> {
    const carried = itemOfRefusal(refused);
    if (carried) {
      this.#conditionReads.fromFailure += 1;
      return isExpired(carried, this.#now()) ? undefined : carried;
    }
    this.#conditionReads.readAfterFailure += 1;
    try {
      return await getUnexpired(this.#db, this.#table, { batchId }, this.#now());
    } catch (error) {
      throw storeError("read", batchId, error);
    }
  }

  async extend(batchId: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.#updateIfOwner("extend", batchId, owner, "SET leaseExpiresAt = :lease", { ":lease": this.#now() + leaseMs });
  }

  async complete(batchId: string, owner: string, result: LabelResult): Promise<boolean> {
    const gz = gzipSync(JSON.stringify(result));
    const values: Record<string, unknown> = { ":done": "COMPLETED", ":at": new Date(this.#now()).toISOString() };
    let update = "SET #s = :done, updatedAt = :at, completedStatus = :cs REMOVE leaseExpiresAt";
    values[":cs"] = result.status;
    if (gz.byteLength <= MAX_STORED_RESULT_BYTES) {
      update = "SET #s = :done, updatedAt = :at, completedStatus = :cs, #r = :result REMOVE leaseExpiresAt";
      values[":result"] = gz;
    }
    return this.#updateIfOwner("complete", batchId, owner, update, values, { "#s": "status", ...(values[":result"] ? { "#r": "result" } : {}) });
  }

  async release(batchId: string, owner: string): Promise<void> {
    try {
      await this.#db.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: { batchId },
          ConditionExpression: "leaseOwner = :me AND #s = :inProgress",
          ExpressionAttributeNames: { "#s": "status" },
          ExpressionAttributeValues: { ":me": owner, ":inProgress": "IN_PROGRESS" },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw storeError("release", batchId, error);
    }
  }

  async #updateIfOwner(
    what: string,
    batchId: string,
    owner: string,
    update: string,
    values: Record<string, unknown>,
    names: Record<string, string> = { "#s": "status" },
  ): Promise<boolean> {
    try {
      await this.#db.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { batchId },
          UpdateExpression: update,
          ConditionExpression: "leaseOwner = :me AND #s = :inProgress",
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ...values, ":me": owner, ":inProgress": "IN_PROGRESS" },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw storeError(what, batchId, error);
    }
  }
}

/**
 * The stored result, or undefined when none was stored (too large) or it cannot be read (a
 * record written by another labelq version, a corrupt value): both are rebuilt from the cache.
 */
function decodeResult(value: unknown): LabelResult | undefined {
  if (!(value instanceof Uint8Array)) return undefined;
  try {
    const parsed = resultSchema.safeParse(JSON.parse(gunzipSync(value).toString("utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** What a refused claim means, or undefined when the refusing lease has expired since (claim again). */
function outcomeFor(existing: Record<string, unknown>, payloadHash: string, now: number): ClaimOutcome | undefined {
  if (existing.payloadHash !== payloadHash) return { kind: "conflict", storedPayloadHash: String(existing.payloadHash) };
  if (existing.status === "COMPLETED") return { kind: "completed", result: decodeResult(existing.result) };
  const leaseExpiresAt = Number(existing.leaseExpiresAt);
  return leaseExpiresAt >= now ? { kind: "in-progress", leaseExpiresAt } : undefined;
}

function storeError(what: string, batchId: string, cause: unknown): StoreError {
  return new StoreError(`Batch record ${what} failed for ${batchId}: ${(cause as Error).message}`, { cause });
}
