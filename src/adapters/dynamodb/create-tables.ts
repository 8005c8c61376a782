import {
  CreateTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { TableSetupError } from "../../core/errors/errors.ts";

/** How long to wait for a new table to become ACTIVE, by default (AWS takes seconds; emulators none). */
const TABLE_ACTIVE_WAIT_S = 120;

/** The names of labelq's tables; the bulk table only where the bulk path is used. */
export interface TableNames {
  cacheTable: string;
  batchesTable: string;
  bulkTable?: string;
}

/** The definitions of labelq's tables: the same shapes appear in the LocalStack init script. */
export function tableDefinitions(names: TableNames): CreateTableCommandInput[] {
  const tables: CreateTableCommandInput[] = [
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
  if (names.bulkTable) tables.push(bulkTableDefinition(names.bulkTable));
  return tables;
}

/**
 * The bulk path's table (src/adapters/dynamodb/dynamo-bulk-store.ts): intake records (`batch#<batchId>`) and
 * job records (`job#<jobKey>`) under one key, and a sparse index `byGroup` that lists the
 * batches waiting per model, the batches of a job, and the jobs.
 */
export function bulkTableDefinition(table: string): CreateTableCommandInput {
  return {
    TableName: table,
    KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
    AttributeDefinitions: [
      { AttributeName: "pk", AttributeType: "S" },
      { AttributeName: "gpk", AttributeType: "S" },
      { AttributeName: "gsk", AttributeType: "S" },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: BULK_GROUP_INDEX,
        KeySchema: [
          { AttributeName: "gpk", KeyType: "HASH" },
          { AttributeName: "gsk", KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      },
    ],
    BillingMode: "PAY_PER_REQUEST",
  };
}

/** The bulk table's index by group (waiting per model, batches per job, jobs). */
export const BULK_GROUP_INDEX = "byGroup";

/** What createTables did per table, for the CLI to print. */
export interface TableReport {
  table: string;
  created: boolean;
  ttl: "enabled" | "unsupported" | "failed";
}

/**
 * Create the tables if they do not exist, wait until they are active and turn on TTL on
 * `expiresAt`. Idempotent. Throws TableSetupError naming the table when one cannot be
 * created or does not become active. Emulators without UpdateTimeToLive get "unsupported": labelq
 * checks expiry on every read anyway.
 */
export async function createTables(
  db: DynamoDBClient,
  names: TableNames,
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
