import { describe, expect, it } from "vitest";
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from "../../src/core/contracts/request.ts";
import { InvalidRequestError } from "../../src/core/errors/errors.ts";
import { parseRequestMessage, peekBatchId } from "../../src/core/intake/parse-request-message.ts";
import { caught } from "../support/fakes.ts";

const limits: RequestLimits = { maxItems: 5, maxTextChars: 50, maxBodyBytes: 2_000 };

function body(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    schemaVersion: 1,
    batchId: "batch-1",
    items: [
      { id: "a", text: "Love it." },
      { id: "b", text: "Hate it." },
    ],
    ...overrides,
  });
}

function invalid(raw: string | undefined, l: RequestLimits = limits): InvalidRequestError {
  const error = caught(() => parseRequestMessage(raw, l));
  expect(error).toBeInstanceOf(InvalidRequestError);
  const e = error as InvalidRequestError;
  expect(e.code).toBe("INVALID_REQUEST");
  expect(e.retryable).toBe(false);
  return e;
}

describe("parseRequestMessage", () => {
  it("returns the validated request for a valid body", () => {
    const request = parseRequestMessage(body({ attributes: { k: "v" } }), limits);
    expect(request.batchId).toBe("batch-1");
    expect(request.items.map((i) => i.id)).toEqual(["a", "b"]);
    expect(request.attributes).toEqual({ k: "v" });
  });

  it("rejects an empty or missing body", () => {
    expect(invalid("").message).toBe("The message body is empty");
    expect(invalid(undefined).message).toBe("The message body is empty");
  });

  it("rejects a body that is not JSON, saying so and where", () => {
    expect(invalid("{batchId: 1").message).toBe("The message body is not JSON (at position 1)");
    expect(invalid('{"batchId": "b"').message).toBe("The message body is not JSON (at position 15)");
  });

  it("keeps the body's text out of the error, since it is logged and becomes the DLQ reason", () => {
    for (const raw of ["Love the colour, battery died in a week", '{"text": "Love the colour"} trailing', "[Love]"]) {
      const message = invalid(raw).message;
      expect(message).toMatch(/^The message body is not JSON/);
      expect(message).not.toMatch(/Love|colour|trailing/);
    }
  });

  it("rejects a body over maxBodyBytes before parsing it, counting UTF-8 bytes", () => {
    // 700 three-byte characters: 700 chars but 2,100 bytes.
    const raw = body({ attributes: { note: "€".repeat(700) } });
    expect(raw.length).toBeLessThan(limits.maxBodyBytes);
    const error = invalid(raw);
    expect(error.message).toBe(`The message body is ${Buffer.byteLength(raw)} bytes; the limit is 2000`);
  });

  it("rejects schemaVersion 2, naming the field in the issues", () => {
    const error = invalid(body({ schemaVersion: 2 }));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatch(/^schemaVersion: /);
    expect(error.message).toMatch(/^The request does not match contract v1: schemaVersion: /);
  });

  it("rejects an unknown top-level field", () => {
    expect(invalid(body({ colour: "red" })).issues.join("\n")).toContain("colour");
  });

  it("rejects a batch with no items", () => {
    expect(invalid(body({ items: [] })).issues).toEqual(["items: a batch needs at least one item"]);
  });

  it("rejects a batch with more than maxItems items", () => {
    const items = Array.from({ length: 6 }, (_, n) => ({ id: `i${n}`, text: "t" }));
    expect(invalid(body({ items })).issues).toEqual(["items: a batch holds at most 5 items"]);
  });

  it("takes a batch with a text too long or empty: those items get errors when labelled, the batch is not refused", () => {
    const items = Array.from({ length: 4 }, (_, n) => ({ id: `i${n}`, text: n === 3 ? "x".repeat(51) : n === 2 ? "" : "ok" }));
    expect(parseRequestMessage(body({ items }), limits).items.map((it) => it.text.length)).toEqual([2, 2, 0, 51]);
  });

  it("names the item by its id as well as its position when one of its fields is wrong", () => {
    const items = [{ id: "r-1", text: "ok" }, { id: "r-2", text: 42 }];
    expect(invalid(body({ items })).issues).toEqual(['items.1 (id "r-2").text: Invalid input: expected string, received number']);
  });

  it("rejects a batchId with bad characters", () => {
    expect(invalid(body({ batchId: "batch 1!" })).issues[0]).toMatch(/^batchId: batchId may contain only/);
  });

  it("rejects a batch with duplicate item ids, naming the id", () => {
    const error = invalid(body({ items: [{ id: "dup", text: "x" }, { id: "dup", text: "y" }] }));
    expect(error.issues).toEqual(['items.1.id: duplicate item id "dup"']);
    expect(error.message).toContain('duplicate item id "dup"');
  });

  it("names a JSON value that is not an object as the body", () => {
    expect(invalid("[1,2]").issues[0]).toMatch(/^body: /);
  });

  it("lists every issue but keeps the message to the first five", () => {
    const items = Array.from({ length: 5 }, (_, n) => ({ id: `i${n}`, text: n }));
    const error = invalid(body({ items, schemaVersion: 3 }));
    expect(error.issues).toHaveLength(6);
    expect(error.message).toMatch(/\(\+1 more\)$/);
  });

  it("uses the limits it is given, not the defaults", () => {
    const items = Array.from({ length: 6 }, (_, n) => ({ id: `i${n}`, text: "t" }));
    expect(parseRequestMessage(body({ items }), DEFAULT_REQUEST_LIMITS).items).toHaveLength(6);
  });
});

describe("peekBatchId", () => {
  it("reads the batchId of a body that fails validation", () => {
    expect(peekBatchId(body({ schemaVersion: 2 }))).toBe("batch-1");
  });

  it("cuts a very long batchId to 128 characters", () => {
    expect(peekBatchId(JSON.stringify({ batchId: "b".repeat(500) }))).toBe("b".repeat(128));
  });

  it("returns undefined for non-JSON, JSON null, a non-string batchId or no body", () => {
    expect(peekBatchId("not json")).toBeUndefined();
    expect(peekBatchId("null")).toBeUndefined();
    expect(peekBatchId(JSON.stringify({ batchId: 42 }))).toBeUndefined();
    expect(peekBatchId(undefined)).toBeUndefined();
  });
});
