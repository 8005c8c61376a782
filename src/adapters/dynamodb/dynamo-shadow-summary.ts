import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { LabelValue } from "../../core/contracts/result.ts";
import { StoreError } from "../../core/errors/errors.ts";
import type { ShadowComparison, ShadowRecorder } from "../../core/classify/shadow-recorder.ts";

/** The versions a shadow summary compares. */
export interface ShadowScope {
  taxonomy: string;
  alias: string;
  baseline: string;
  shadow: string;
}

/** How often each (baseline label, shadow label) pair occurred for one dimension. */
export interface ShadowPairCount {
  baseline: LabelValue;
  shadow: LabelValue;
  count: number;
}

const PAIR_PREFIX = "pair:";

/** The summary item's key in the batches table: one item per scope and dimension, beside the batch records. */
export function shadowSummaryKey(scope: ShadowScope, dimension: string): string {
  return `shadow#${scope.taxonomy}#${scope.alias}#${scope.baseline}>${scope.shadow}#${dimension}`;
}

/**
 * Shadow comparisons summed in DynamoDB: for each dimension, one item whose attributes count
 * each (baseline, shadow) label pair, added to atomically (UpdateItem ADD), so every worker
 * adds to the same counts without reading them and no comparison is counted twice within a
 * call. The items live in the batches table under keys no batchId can take (`shadow#...`)
 * and carry no expiry: they are the running total `labelq eval canary` reads.
 */
export class DynamoShadowSummary implements ShadowRecorder {
  readonly #db: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(db: DynamoDBDocumentClient, table: string) {
    this.#db = db;
    this.#table = table;
  }

  async record(comparison: ShadowComparison): Promise<void> {
    await Promise.all(
      Object.entries(comparison.pairs).map(async ([dimension, pairs]) => {
        const counts = new Map<string, number>();
        for (const [a, b] of pairs) {
          const name = PAIR_PREFIX + JSON.stringify([setLike(a), setLike(b)]);
          counts.set(name, (counts.get(name) ?? 0) + 1);
        }
        const names: Record<string, string> = { "#n": "compared" };
        const values: Record<string, unknown> = { ":n": pairs.length, ":scope": { ...scopeOf(comparison), dimension } };
        const adds = ["#n :n"];
        [...counts.entries()].forEach(([name, count], k) => {
          names[`#p${k}`] = name;
          values[`:p${k}`] = count;
          adds.push(`#p${k} :p${k}`);
        });
        try {
          await this.#db.send(
            new UpdateCommand({
              TableName: this.#table,
              Key: { batchId: shadowSummaryKey(comparison, dimension) },
              UpdateExpression: `SET #scope = :scope ADD ${adds.join(", ")}`,
              ExpressionAttributeNames: { ...names, "#scope": "scope" },
              ExpressionAttributeValues: values,
            }),
          );
        } catch (cause) {
          throw new StoreError(`Could not add to the shadow summary of ${dimension}`, { cause });
        }
      }),
    );
  }

  /** The pair counts of each dimension (dimensions never compared are absent). */
  async read(scope: ShadowScope, dimensions: readonly string[]): Promise<Record<string, ShadowPairCount[]>> {
    const out: Record<string, ShadowPairCount[]> = {};
    for (const dimension of dimensions) {
      let item: Record<string, unknown> | undefined;
      try {
        item = (await this.#db.send(new GetCommand({ TableName: this.#table, Key: { batchId: shadowSummaryKey(scope, dimension) }, ConsistentRead: true }))).Item;
      } catch (cause) {
        throw new StoreError(`Could not read the shadow summary of ${dimension}`, { cause });
      }
      if (!item) continue;
      out[dimension] = Object.entries(item)
        .filter(([name]) => name.startsWith(PAIR_PREFIX))
        .map(([name, count]) => {
          const [baseline, shadow] = JSON.parse(name.slice(PAIR_PREFIX.length)) as [LabelValue, LabelValue];
          return { baseline, shadow, count: Number(count) };
        });
    }
    return out;
  }
}

function scopeOf(s: ShadowScope): ShadowScope {
  return { taxonomy: s.taxonomy, alias: s.alias, baseline: s.baseline, shadow: s.shadow };
}

/** Multi-choice lists as sorted sets, so the same labels in another order count as one pair. */
function setLike(v: LabelValue): LabelValue {
  return Array.isArray(v) ? [...v].sort() : v;
}
