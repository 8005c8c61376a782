import {
  CreateTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { TableSetupError } from "../errors/errors.ts";

/** How long to wait for a new table to become ACTIVE, by default (AWS takes seconds; emulators none). */
const TABLE_ACTIVE_WAIT_S = 120;

/** The definitions of labelq's tables: the same shapes appear in the LocalStack init script. */
export function tableDefinitions(names: { cacheTable: string; batchesTable: string }): CreateTableCommandInput[] {
  return [
    {
      TableName: names.cacheTable,
      KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
      BillingMode: "PAY_PER_REQUEST",
    },
    {
      TableName: names.batchesTable,
      KeySchema: [{ AttributeName: "batchId", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "batchId", AttributeType: "S" }],
      BillingMode: "PAY_PER_REQUEST",
    },
  ];
}

/** What createTables did per table, for the CLI to print. */
export interface TableReport {
  table: string;
  created: boolean;
  ttl: "enabled" | "unsupported" | "failed";
}

/**
 * Create both tables if they do not exist, wait until they are active and turn on TTL on
 * `expiresAt`. Idempotent. Throws TableSetupError naming the table when one cannot be
 * created or does not become active. Emulators without UpdateTimeToLive get "unsupported": labelq
 * checks expiry on every read anyway.
 */
export async function createTables(
  db: DynamoDBClient,
  names: { cacheTable: string; batchesTable: string },
  options: { activeWaitS?: number } = {},
): Promise<TableReport[]> {
  const activeWaitS = options.activeWaitS ?? TABLE_ACTIVE_WAIT_S;
  const reports: TableReport[] = [];
  for (const def of tableDefinitions(names)) {
    const table = def.TableName ?? "";
    let created = true;
    try {
      await db.send(new CreateTableCommand(def));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw new TableSetupError(`Could not create table ${table}: ${(error as Error).message}`, { cause: error });
      created = false;
    }
    try {
      // The SDK's waiter polls DescribeTable with backoff until the table is ACTIVE.
      await waitUntilTableExists({ client: db, maxWaitTime: activeWaitS, minDelay: 1, maxDelay: 5 }, { TableName: table });
    } catch (error) {
      throw new TableSetupError(`Table ${table} did not become ACTIVE within ${activeWaitS} s: ${(error as Error).message}`, { cause: error });
    }
    reports.push({ table, created, ttl: await enableTtl(db, table) });
  }
  return reports;
}

/** Turn on TTL on `expiresAt`; a service without UpdateTimeToLive reports "unsupported", which is fine (expiry is checked on read). */
async function enableTtl(db: DynamoDBClient, table: string): Promise<TableReport["ttl"]> {
  try {
    await db.send(new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true } }));
    return "enabled";
  } catch (error) {
    const { name, message } = error as Error;
    if (name === "ValidationException" && /already enabled/i.test(message)) return "enabled";
    return name === "UnknownOperationException" || /not supported|unknown operation/i.test(message) ? "unsupported" : "failed";
  }
}
