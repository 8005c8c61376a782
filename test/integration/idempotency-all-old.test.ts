import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { crc32 } from "node:zlib";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTables } from "../../src/adapters/dynamodb/create-tables.ts";
import { DynamoIdempotencyStore } from "../../src/adapters/dynamodb/dynamo-idempotency-store.ts";
import type { LabelResult } from "../../src/core/contracts/result.ts";
import { targetClients } from "../support/aws-target.ts";

/**
 * A refused claim reads the stored record from the refusal (ReturnValuesOnConditionCheckFailure:
 * "ALL_OLD"), as DynamoDB sends it. dynalite, the embedded store, drops that parameter and sends
 * no Item; against it the claims go through `refusalsWithItem`, an HTTP front that adds the
 * Item to a refused PutItem's error body exactly where DynamoDB puts it (raw AttributeValues,
 * read by the SDK's own deserializer). Against LocalStack or AWS the store is called directly.
 */

const target = inject("awsTarget");
const { dynamo } = targetClients(target, process.env);
const batchesTable = `lq-batches-${randomUUID().slice(0, 8)}`;
let front: { url: string; close: () => Promise<void> } | undefined;

beforeAll(async () => {
  await createTables(dynamo, { cacheTable: `lq-cache-${randomUUID().slice(0, 8)}`, batchesTable });
  if (target.kind === "embedded") front = await refusalsWithItem(target.endpoints.dynamodb, "batchId");
});

afterAll(async () => {
  await front?.close();
  await dynamo.send(new DeleteTableCommand({ TableName: batchesTable })).catch(() => undefined);
});

/** A store on the endpoint that returns the refusing item (the front on the embedded stack). */
function storeWithItemOnRefusal(now?: () => number): DynamoIdempotencyStore {
  const endpoint = front?.url ?? target.endpoints.dynamodb;
  const client = targetClients({ ...target, endpoints: { ...target.endpoints, dynamodb: endpoint } }, process.env).dynamo;
  return new DynamoIdempotencyStore(DynamoDBDocumentClient.from(client), batchesTable, 1, now);
}

const result: LabelResult = {
  schemaVersion: 1,
  batchId: "filled-in",
  status: "completed",
  taxonomy: "product-feedback",
  promptVersion: "v1",
  promptHash: `sha256:${"0".repeat(64)}`,
  model: "llama3.3-70b",
  items: [{ id: "a", labels: { sentiment_polarity: "positive" }, source: "model", model: "m", error: null }],
  usage: { modelCalls: 1, inputTokens: 10, outputTokens: 2, cacheReadInputTokens: 0, cacheWriteInputTokens: 0, reservedTokens: 40, cacheHits: 0, costUsd: 0.0001 },
  timing: { receivedAt: "2026-11-25T12:00:00.000Z", completedAt: "2026-11-25T12:00:01.000Z", durationMs: 1000 },
  attributes: {},
};

describe("idempotency claims read the refusing record from the failed conditional write", () => {
  it("tells in-progress, completed (with the stored result) and conflict apart from the refusal alone, with no second read", async () => {
    const store = storeWithItemOnRefusal();
    const batchId = `b-${randomUUID()}`;
    expect(await store.claim(batchId, "sha256:one", "worker-a", 60_000)).toEqual({ kind: "claimed" });

    const held = await store.claim(batchId, "sha256:one", "worker-b", 60_000);
    expect(held.kind).toBe("in-progress");
    expect(held.kind === "in-progress" && held.leaseExpiresAt).toBeGreaterThan(Date.now());
    expect(await store.claim(batchId, "sha256:two", "worker-b", 60_000)).toEqual({ kind: "conflict", storedPayloadHash: "sha256:one" });

    expect(await store.complete(batchId, "worker-a", { ...result, batchId })).toBe(true);
    // The gzipped result comes back as binary inside the refusal and decodes to the same result.
    expect(await store.claim(batchId, "sha256:one", "worker-b", 60_000)).toEqual({ kind: "completed", result: { ...result, batchId } });
    expect(await store.claim(batchId, "sha256:two", "worker-b", 60_000)).toEqual({ kind: "conflict", storedPayloadHash: "sha256:one" });

    expect(store.conditionReads()).toEqual({ fromFailure: 4, readAfterFailure: 0 });
  });

  it("takes over a lease that expired, the expiry read from the record in the refusal", async () => {
    let clock = Date.now();
    const store = storeWithItemOnRefusal(() => clock);
    const batchId = `b-${randomUUID()}`;
    expect(await store.claim(batchId, "sha256:one", "worker-a", 1_000)).toEqual({ kind: "claimed" });
    expect((await store.claim(batchId, "sha256:one", "worker-b", 1_000)).kind).toBe("in-progress");
    clock += 2_000;
    expect(await store.claim(batchId, "sha256:one", "worker-b", 1_000)).toEqual({ kind: "claimed" });
    // worker-a lost the lease: it can neither extend nor complete it.
    expect(await store.extend(batchId, "worker-a", 1_000)).toBe(false);
    expect(await store.complete(batchId, "worker-a", { ...result, batchId })).toBe(false);
    expect(store.conditionReads()).toEqual({ fromFailure: 1, readAfterFailure: 0 });
  });

  it("reads the record again only where the store sent no item (dynalite), and counts each such read", async () => {
    const store = new DynamoIdempotencyStore(DynamoDBDocumentClient.from(dynamo), batchesTable, 1);
    const batchId = `b-${randomUUID()}`;
    expect(await store.claim(batchId, "sha256:one", "worker-a", 60_000)).toEqual({ kind: "claimed" });
    expect((await store.claim(batchId, "sha256:one", "worker-b", 60_000)).kind).toBe("in-progress");
    expect(await store.claim(batchId, "sha256:two", "worker-b", 60_000)).toEqual({ kind: "conflict", storedPayloadHash: "sha256:one" });
    // Same outcomes either way; only where the record came from differs.
    const refusals = 2;
    expect(store.conditionReads()).toEqual(target.kind === "embedded" ? { fromFailure: 0, readAfterFailure: refusals } : { fromFailure: refusals, readAfterFailure: 0 });
  });
});

/**
 * An HTTP front for dynalite that adds, to a PutItem refused by its condition and sent with
 * ReturnValuesOnConditionCheckFailure "ALL_OLD", the refusing item as DynamoDB returns it (the
 * error body's "Item"). Every other request and response passes through unchanged.
 */
async function refusalsWithItem(upstream: string, keyName: string): Promise<{ url: string; close: () => Promise<void> }> {
  const post = (headers: IncomingHttpHeaders, body: string) =>
    fetch(upstream, { method: "POST", headers: forwardable(headers), body }).then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text() }));
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const answer = await post(req.headers, body);
        let text = answer.text;
        const request = String(req.headers["x-amz-target"]).endsWith(".PutItem") ? (JSON.parse(body) as PutItemBody) : undefined;
        const refused = answer.status === 400 && /ConditionalCheckFailedException/.test(text);
        if (request?.ReturnValuesOnConditionCheckFailure === "ALL_OLD" && refused) {
          const key = { [keyName]: request.Item[keyName] };
          const getBody = JSON.stringify({ TableName: request.TableName, Key: key, ConsistentRead: true });
          const got = await post({ ...req.headers, "x-amz-target": "DynamoDB_20120810.GetItem" }, getBody);
          const item = (JSON.parse(got.text) as { Item?: unknown }).Item;
          if (item) text = JSON.stringify({ ...(JSON.parse(text) as object), Item: item });
        }
        const payload = Buffer.from(text, "utf8");
        res.writeHead(answer.status, {
          "content-type": answer.headers.get("content-type") ?? "application/x-amz-json-1.0",
          "x-amzn-requestid": answer.headers.get("x-amzn-requestid") ?? randomUUID(),
          "x-amz-crc32": String(crc32(payload)),
          "content-length": String(payload.byteLength),
        });
        res.end(payload);
      })().catch((error: unknown) => {
        res.writeHead(500).end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface PutItemBody {
  TableName: string;
  Item: Record<string, unknown>;
  ReturnValuesOnConditionCheckFailure?: string;
}

/** The signed request's headers, minus those fetch sets itself. */
function forwardable(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (["host", "content-length", "connection", "transfer-encoding"].includes(name) || value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}
