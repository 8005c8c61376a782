import { BatchGetCommand, type BatchGetCommandInput, BatchWriteCommand, type BatchWriteCommandInput, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Logger } from "pino";
import type { CacheEntry, CacheStats, LabelCache } from "../../core/cache/label-cache.ts";
import { withUnprocessedRetries } from "./unprocessed-retries.ts";

/** DynamoDB limits: BatchGetItem takes 100 keys, BatchWriteItem 25 items. */
const GET_CHUNK = 100;
const PUT_CHUNK = 25;

/**
 * LabelCache on a DynamoDB table with partition key `pk` (string). One item per text; see
 * docs/storage.md. Errors degrade to cache misses: the model can still answer.
 */
export class DynamoLabelCache implements LabelCache {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #stats: CacheStats = { reads: 0, hits: 0, writes: 0, errors: 0, readCapacityUnits: 0, writeCapacityUnits: 0 };

  constructor(db: DynamoDBDocumentClient, table: string, logger: Logger, now: () => number = Date.now) {
    this.#db = db;
    this.#table = table;
    this.#logger = logger;
    this.#now = now;
  }

  async getMany(keys: readonly string[], signal?: AbortSignal): Promise<Map<string, CacheEntry>> {
    const found = new Map<string, CacheEntry>();
    const unique = [...new Set(keys)];
    const nowS = Math.floor(this.#now() / 1000);
    for (let k = 0; k < unique.length; k += GET_CHUNK) {
      const chunk = unique.slice(k, k + GET_CHUNK);
      this.#stats.reads += chunk.length;
      try {
        await withUnprocessedRetries<BatchGetCommandInput>(
          { RequestItems: { [this.#table]: { Keys: chunk.map((pk) => ({ pk })) } } },
          async (request) => {
            const out = await this.#db.send(new BatchGetCommand({ ...request, ReturnConsumedCapacity: "TOTAL" }));
            this.#countCapacity(out.ConsumedCapacity, "read");
            for (const item of out.Responses?.[this.#table] ?? []) {
              const entry = fromItem(item);
              // TTL deletion is lazy: an expired item may still be returned.
              if (entry && entry.expiresAt > nowS) found.set(entry.key, entry);
            }
            const rest = out.UnprocessedKeys?.[this.#table]?.Keys;
            return rest && rest.length > 0 ? { RequestItems: { [this.#table]: { Keys: rest } } } : undefined;
          },
          { signal },
        );
      } catch (error) {
        this.#stats.errors += 1;
        this.#logger.warn({ err: error, table: this.#table, keys: chunk.length }, "label cache read failed; continuing without cache");
      }
    }
    this.#stats.hits += found.size;
    return found;
  }

  async putMany(entries: readonly CacheEntry[], signal?: AbortSignal): Promise<void> {
    for (let k = 0; k < entries.length; k += PUT_CHUNK) {
      const chunk = entries.slice(k, k + PUT_CHUNK);
      try {
        await withUnprocessedRetries<BatchWriteCommandInput>(
          { RequestItems: { [this.#table]: chunk.map((e) => ({ PutRequest: { Item: toItem(e) } })) } },
          async (request) => {
            const out = await this.#db.send(new BatchWriteCommand({ ...request, ReturnConsumedCapacity: "TOTAL" }));
            this.#countCapacity(out.ConsumedCapacity, "write");
            const rest = out.UnprocessedItems?.[this.#table];
            return rest && rest.length > 0 ? { RequestItems: { [this.#table]: rest } } : undefined;
          },
          { signal },
        );
        this.#stats.writes += chunk.length;
      } catch (error) {
        this.#stats.errors += 1;
        this.#logger.warn({ err: error, table: this.#table, items: chunk.length }, "label cache write failed; labels were not cached");
      }
    }
  }

  stats(): CacheStats {
    return { ...this.#stats };
  }

  #countCapacity(consumed: { CapacityUnits?: number }[] | undefined, kind: "read" | "write"): void {
    const units = (consumed ?? []).reduce((n, c) => n + (c.CapacityUnits ?? 0), 0);
    if (kind === "read") this.#stats.readCapacityUnits += units;
    else this.#stats.writeCapacityUnits += units;
  }
}

function toItem(e: CacheEntry): Record<string, unknown> {
  return { pk: e.key, labels: e.labels, model: e.model, promptVersion: e.promptVersion, expiresAt: e.expiresAt };
}

function fromItem(item: Record<string, unknown>): CacheEntry | undefined {
  if (typeof item.pk !== "string" || typeof item.expiresAt !== "number" || typeof item.labels !== "object" || item.labels === null) return undefined;
  return {
    key: item.pk,
    labels: item.labels as CacheEntry["labels"],
    model: typeof item.model === "string" ? item.model : "",
    promptVersion: typeof item.promptVersion === "string" ? item.promptVersion : "",
    expiresAt: item.expiresAt,
  };
}
