import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceInUseException, UpdateTimeToLiveCommand } from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { TableSetupError } from "../../src/core/errors/errors.ts";
import { createTables } from "../../src/adapters/dynamodb/create-tables.ts";
import { rejection } from "../support/fakes.ts";

// The DynamoDB client is the seam: table management has no interface of labelq's own.
const dbMock = mockClient(DynamoDBClient);
const db = new DynamoDBClient({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
const names = { cacheTable: "t-cache", batchesTable: "t-batches" };

beforeEach(() => {
  dbMock.reset();
  dbMock.on(CreateTableCommand).resolves({});
  dbMock.on(DescribeTableCommand).resolves({ Table: { TableStatus: "ACTIVE" } });
  dbMock.on(UpdateTimeToLiveCommand).resolves({});
});

describe("createTables", () => {
  it("creates both tables, waits until each is ACTIVE and turns TTL on", async () => {
    dbMock.on(DescribeTableCommand).resolvesOnce({ Table: { TableStatus: "CREATING" } }).resolves({ Table: { TableStatus: "ACTIVE" } });
    const reports = await createTables(db, names);
    expect(reports).toEqual([
      { table: "t-cache", created: true, ttl: "enabled" },
      { table: "t-batches", created: true, ttl: "enabled" },
    ]);
    expect(dbMock.commandCalls(DescribeTableCommand).length).toBeGreaterThanOrEqual(3);
  });

  it("reports tables that exist already, and TTL as unsupported where the service lacks the API", async () => {
    dbMock.on(CreateTableCommand).rejects(new ResourceInUseException({ message: "exists", $metadata: {} }));
    dbMock.on(UpdateTimeToLiveCommand).rejects(Object.assign(new Error("unknown operation"), { name: "UnknownOperationException" }));
    expect(await createTables(db, names)).toEqual([
      { table: "t-cache", created: false, ttl: "unsupported" },
      { table: "t-batches", created: false, ttl: "unsupported" },
    ]);
  });

  it("throws a TableSetupError naming the table when it cannot be created", async () => {
    dbMock.on(CreateTableCommand).rejects(Object.assign(new Error("not authorized to perform dynamodb:CreateTable"), { name: "AccessDeniedException" }));
    const error = await rejection(createTables(db, names));
    expect(error).toBeInstanceOf(TableSetupError);
    expect((error as TableSetupError).code).toBe("TABLE_SETUP_FAILED");
    expect((error as TableSetupError).message).toBe("Could not create table t-cache: not authorized to perform dynamodb:CreateTable");
  });

  it("throws a TableSetupError when a table does not become ACTIVE in time, rather than going on", async () => {
    dbMock.on(DescribeTableCommand).resolves({ Table: { TableStatus: "CREATING" } });
    const error = await rejection(createTables(db, names, { activeWaitS: 1 }));
    expect(error).toBeInstanceOf(TableSetupError);
    expect((error as Error).message).toMatch(/^Table t-cache did not become ACTIVE within 1 s/);
    expect(dbMock.commandCalls(UpdateTimeToLiveCommand)).toHaveLength(0);
  });
});
