import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";

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
 * `expiresAt`. Idempotent. Emulators without UpdateTimeToLive get "unsupported": labelq
 * checks expiry on every read anyway.
 */
export async function createTables(db: DynamoDBClient, names: { cacheTable: string; batchesTable: string }): Promise<TableReport[]> {
  const reports: TableReport[] = [];
  for (const def of tableDefinitions(names)) {
    const table = def.TableName!;
    let created = true;
    try {
      await db.send(new CreateTableCommand(def));
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
      created = false;
    }
    for (let k = 0; k < 120; k++) {
      const d = await db.send(new DescribeTableCommand({ TableName: table }));
      if (d.Table?.TableStatus === "ACTIVE") break;
      await new Promise((r) => setTimeout(r, 500));
    }
    let ttl: TableReport["ttl"] = "enabled";
    try {
      await db.send(new UpdateTimeToLiveCommand({ TableName: table, TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true } }));
    } catch (error) {
      const name = (error as Error).name;
      // Already enabled counts as enabled; an emulator that lacks the API is "unsupported".
      if (name === "ValidationException" && /already enabled/i.test((error as Error).message)) ttl = "enabled";
      else ttl = name === "UnknownOperationException" || /not supported|unknown operation/i.test((error as Error).message) ? "unsupported" : "failed";
    }
    reports.push({ table, created, ttl });
  }
  return reports;
}
