import type { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";

/**
 * True when a record's TTL (`expiresAt`, epoch seconds) has passed. DynamoDB deletes expired
 * items lazily, up to days later, so a read may still return one: it counts as absent.
 */
export function isExpired(item: Record<string, unknown>, nowMs: number): boolean {
  return typeof item.expiresAt === "number" && item.expiresAt < Math.floor(nowMs / 1000);
}

/** A strongly consistent read of one item; undefined when it is absent or expired. SDK errors propagate for the caller to name. */
export async function getUnexpired(db: DynamoDBDocumentClient, table: string, key: Record<string, string>, nowMs: number): Promise<Record<string, unknown> | undefined> {
  const out = await db.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }));
  return out.Item && !isExpired(out.Item, nowMs) ? out.Item : undefined;
}

/**
 * The item a refused conditional write sent back (ReturnValuesOnConditionCheckFailure: "ALL_OLD"),
 * as plain values; undefined when the store sent none. lib-dynamodb unmarshalls only successful
 * outputs, so the exception's Item is still in AttributeValue form here.
 */
export function itemOfRefusal(error: ConditionalCheckFailedException): Record<string, unknown> | undefined {
  return error.Item ? unmarshall(error.Item) : undefined;
}
