import { describe, expect, it } from "vitest";
import { DEFAULT_REQUEST_LIMITS, requestSchema } from "../../src/core/contracts/request.ts";

function validRequest(): Record<string, unknown> {
  return {
    schemaVersion: 1,
    batchId: "shop-2026/11@eu:batch_0001.a-b",
    taxonomy: "product-feedback",
    promptVersion: "prod",
    model: "llama3-70b",
    items: [
      { id: "r-1", text: "Love it." },
      { id: "r-2", text: "Broke after a week.", metadata: { stars: 1, shop: "eu" } },
    ],
    replyTo: "http://localhost:4566/000000000000/results",
    attributes: { tenant: "acme" },
  };
}

function issuesOf(value: unknown, limits = DEFAULT_REQUEST_LIMITS): { path: string; message: string }[] {
  const parsed = requestSchema(limits).safeParse(value);
  if (parsed.success) return [];
  return parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
}

describe("requestSchema (contract v1)", () => {
  it("accepts a request with every optional field, keeping item metadata as sent", () => {
    const parsed = requestSchema().parse(validRequest());
    expect(parsed.batchId).toBe("shop-2026/11@eu:batch_0001.a-b");
    expect(parsed.items[1]?.metadata).toEqual({ stars: 1, shop: "eu" });
    expect(parsed.attributes).toEqual({ tenant: "acme" });
  });

  it("accepts the minimal request: schemaVersion, batchId and items", () => {
    expect(issuesOf({ schemaVersion: 1, batchId: "b1", items: [{ id: "1", text: "x" }] })).toEqual([]);
  });

  it("rejects schemaVersion 2 at path schemaVersion", () => {
    expect(issuesOf({ ...validRequest(), schemaVersion: 2 }).map((i) => i.path)).toEqual(["schemaVersion"]);
  });

  it("rejects an unknown top-level field, naming it", () => {
    const issues = issuesOf({ ...validRequest(), priority: "high" });
    expect(issues).toHaveLength(1);
    expect(issues[0]?.message).toContain("priority");
  });

  it("rejects a batch with no items, saying a batch needs at least one", () => {
    expect(issuesOf({ ...validRequest(), items: [] })).toEqual([{ path: "items", message: "a batch needs at least one item" }]);
  });

  it("rejects a batch with more items than maxItems, naming the limit", () => {
    const items = Array.from({ length: 4 }, (_, n) => ({ id: `i${n}`, text: "x" }));
    expect(issuesOf({ ...validRequest(), items }, { ...DEFAULT_REQUEST_LIMITS, maxItems: 3 })).toEqual([
      { path: "items", message: "a batch holds at most 3 items" },
    ]);
  });

  it("accepts exactly maxItems items and texts of exactly maxTextChars", () => {
    const items = Array.from({ length: 3 }, (_, n) => ({ id: `i${n}`, text: "x".repeat(10) }));
    expect(issuesOf({ ...validRequest(), items }, { ...DEFAULT_REQUEST_LIMITS, maxItems: 3, maxTextChars: 10 })).toEqual([]);
  });

  it("accepts an empty, a blank and an over-long text: each gets an item error in the result, not a refused batch", () => {
    const items = [{ id: "a", text: "ok" }, { id: "b", text: "x".repeat(11) }, { id: "c", text: "" }, { id: "d", text: " \n " }];
    expect(issuesOf({ ...validRequest(), items }, { ...DEFAULT_REQUEST_LIMITS, maxTextChars: 10 })).toEqual([]);
  });

  it("still refuses an item whose text is not a string", () => {
    expect(issuesOf({ ...validRequest(), items: [{ id: "a", text: 7 }] }).map((i) => i.path)).toEqual(["items.0.text"]);
  });

  it("rejects a batchId with characters outside letters, digits and . _ : @ / -", () => {
    for (const batchId of ["has space", "semi;colon", "ümlaut", "new\nline"]) {
      const issues = issuesOf({ ...validRequest(), batchId });
      expect(issues.map((i) => i.path), batchId).toEqual(["batchId"]);
      expect(issues[0]?.message).toMatch(/^batchId may contain only letters, digits/);
    }
  });

  it("rejects an empty batchId and one longer than 128 characters", () => {
    expect(new Set(issuesOf({ ...validRequest(), batchId: "" }).map((i) => i.path))).toEqual(new Set(["batchId"]));
    expect(issuesOf({ ...validRequest(), batchId: "b".repeat(129) }).map((i) => i.path)).toEqual(["batchId"]);
    expect(issuesOf({ ...validRequest(), batchId: "b".repeat(128) })).toEqual([]);
  });

  it("rejects an item id with forbidden characters at its path", () => {
    expect(issuesOf({ ...validRequest(), items: [{ id: "a b", text: "x" }] }).map((i) => i.path)).toEqual(["items.0.id"]);
  });

  it("rejects a batch with duplicate item ids, naming the id and pointing at the second occurrence", () => {
    const items = [{ id: "a", text: "x" }, { id: "b", text: "y" }, { id: "a", text: "z" }];
    expect(issuesOf({ ...validRequest(), items })).toEqual([{ path: "items.2.id", message: 'duplicate item id "a"' }]);
  });

  it("rejects a replyTo that is not a URL", () => {
    expect(issuesOf({ ...validRequest(), replyTo: "results-queue" }).map((i) => i.path)).toEqual(["replyTo"]);
  });

  it("rejects non-string attribute values", () => {
    expect(issuesOf({ ...validRequest(), attributes: { n: 1 } }).map((i) => i.path)).toEqual(["attributes.n"]);
  });
});
