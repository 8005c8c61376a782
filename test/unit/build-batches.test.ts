import { describe, expect, it } from "vitest";
import { requestSchema } from "../../src/core/contracts/request.ts";
import { buildBatches } from "../../src/app/producer/build-batches.ts";
import type { InputText } from "../../src/app/producer/read-texts.ts";

function texts(n: number): InputText[] {
  return Array.from({ length: n }, (_, k) => ({ id: `t${k + 1}`, text: `text ${k + 1}` }));
}

describe("buildBatches", () => {
  it("splits texts into batches of at most batchSize, the last one holding the rest", () => {
    expect(buildBatches(texts(7), { batchSize: 3, prefix: "p" }).map((b) => b.items.length)).toEqual([3, 3, 1]);
    expect(buildBatches(texts(6), { batchSize: 3, prefix: "p" }).map((b) => b.items.length)).toEqual([3, 3]);
    expect(buildBatches(texts(2), { batchSize: 50, prefix: "p" }).map((b) => b.items.length)).toEqual([2]);
  });

  it("keeps every text once, in order", () => {
    const input = texts(10);
    expect(buildBatches(input, { batchSize: 4, prefix: "p" }).flatMap((b) => b.items)).toEqual(input);
  });

  it("returns no batch for no texts", () => {
    expect(buildBatches([], { batchSize: 3, prefix: "p" })).toEqual([]);
  });

  it("numbers batchIds <prefix>-000001, ... and gives the same ids for the same input", () => {
    const a = buildBatches(texts(5), { batchSize: 2, prefix: "reviews-2026" });
    expect(a.map((b) => b.batchId)).toEqual(["reviews-2026-000001", "reviews-2026-000002", "reviews-2026-000003"]);
    expect(buildBatches(texts(5), { batchSize: 2, prefix: "reviews-2026" }).map((b) => b.batchId)).toEqual(a.map((b) => b.batchId));
  });

  it("copies taxonomy, prompt version, model, replyTo and attributes into every batch", () => {
    const options = {
      batchSize: 2,
      prefix: "p",
      taxonomy: "support-triage",
      promptVersion: "v1",
      model: "claude-haiku",
      replyTo: "http://localhost:4566/000000000000/team-results",
      attributes: { tenant: "acme" },
    };
    for (const b of buildBatches(texts(3), options)) {
      expect(b).toMatchObject({
        schemaVersion: 1,
        taxonomy: "support-triage",
        promptVersion: "v1",
        model: "claude-haiku",
        replyTo: "http://localhost:4566/000000000000/team-results",
        attributes: { tenant: "acme" },
      });
    }
  });

  it("leaves unset options out of the request entirely", () => {
    const [b] = buildBatches(texts(1), { batchSize: 1, prefix: "p" });
    expect(Object.keys(b ?? {}).sort()).toEqual(["batchId", "items", "schemaVersion"]);
  });

  it("builds requests that satisfy the v1 contract", () => {
    const withMeta = texts(4).map((t) => ({ ...t, metadata: { source: "csv" } }));
    for (const b of buildBatches(withMeta, { batchSize: 3, prefix: "demo-2026-11-25T12-00-00-000Z", attributes: { a: "b" } })) {
      expect(requestSchema().safeParse(b).success).toBe(true);
    }
  });
});
