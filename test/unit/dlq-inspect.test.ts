import type { Message } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { entrySummary, formatAge, formatEntry, formatTable, truncate } from "../../src/cli/dlq-format.ts";
import { REDRIVE_CODE, toDlqEntry } from "../../src/app/dlq/dlq-inspect.ts";
import { DLQ_ATTRIBUTES } from "../../src/adapters/sqs/sqs-messages.ts";

const now = Date.parse("2026-11-25T12:00:00Z");
const str = (v: string) => ({ DataType: "String", StringValue: v });

const labelqEntry: Message = {
  MessageId: "11111111-1111-1111-1111-111111111111",
  ReceiptHandle: "rh-1",
  Body: JSON.stringify({ schemaVersion: 1, batchId: "from-body", items: [{ id: "a", text: "secret text" }] }),
  MessageAttributes: {
    [DLQ_ATTRIBUTES.code]: str("MODEL_REJECTED_REQUEST"),
    [DLQ_ATTRIBUTES.reason]: str("The model rejected every text:\n ValidationException"),
    [DLQ_ATTRIBUTES.receiveCount]: { DataType: "Number", StringValue: "3" },
    [DLQ_ATTRIBUTES.sourceQueue]: str("http://sqs.local/000000000000/lq-requests"),
    [DLQ_ATTRIBUTES.failedAt]: str("2026-11-25T11:00:00.000Z"),
    [DLQ_ATTRIBUTES.batchId]: str("batch-7"),
  },
  Attributes: { SentTimestamp: String(now - 3_600_000), ApproximateReceiveCount: "2" },
};

const redriven: Message = {
  MessageId: "22222222-2222-2222-2222-222222222222",
  ReceiptHandle: "rh-2",
  Body: JSON.stringify({ schemaVersion: 1, batchId: "b-redriven", items: [] }),
  Attributes: { SentTimestamp: String(now - 5 * 60_000), ApproximateReceiveCount: "6" },
};

describe("toDlqEntry", () => {
  it("reads labelq's DLQ attributes", () => {
    const e = toDlqEntry(labelqEntry);
    expect(e).toMatchObject({
      messageId: labelqEntry.MessageId,
      receiptHandle: "rh-1",
      batchId: "batch-7",
      code: "MODEL_REJECTED_REQUEST",
      redrive: false,
      sourceQueue: "http://sqs.local/000000000000/lq-requests",
      failedAt: Date.parse("2026-11-25T11:00:00.000Z"),
      sentAt: now - 3_600_000,
      receiveCount: 3,
      approximateReceiveCount: 2,
    });
    expect(e.attributes[DLQ_ATTRIBUTES.code]).toBe("MODEL_REJECTED_REQUEST");
  });

  it("marks a message without labelq attributes as REDRIVE and reads its batchId from the body", () => {
    const e = toDlqEntry(redriven);
    expect(e.code).toBe(REDRIVE_CODE);
    expect(e.redrive).toBe(true);
    expect(e.batchId).toBe("b-redriven");
    expect(e.reason).toBeUndefined();
    expect(e.sourceQueue).toBeUndefined();
    expect(e.receiveCount).toBeUndefined();
    expect(e.approximateReceiveCount).toBe(6);
  });

  it("leaves batchId unset for a body that is not JSON", () => {
    expect(toDlqEntry({ MessageId: "m", Body: "this is not json" }).batchId).toBeUndefined();
  });
});

describe("formatting", () => {
  it("formats ages for a table", () => {
    expect([0, 45_000, 12 * 60_000, 3 * 3_600_000, 3 * 3_600_000 + 5 * 60_000, 2 * 86_400_000, 52 * 3_600_000].map(formatAge)).toEqual([
      "0s",
      "45s",
      "12m",
      "3h",
      "3h 5m",
      "2d",
      "2d 4h",
    ]);
    expect(formatAge(-5_000)).toBe("0s");
  });

  it("truncates to one line with an ellipsis", () => {
    expect(truncate("short", 10)).toBe("short");
    expect(truncate("a\nmulti   line\treason", 40)).toBe("a multi line reason");
    expect(truncate("x".repeat(50), 10)).toBe(`${"x".repeat(9)}…`);
  });

  it("prints one table row per entry without the body, REDRIVE entries explained", () => {
    const lines = formatTable([toDlqEntry(labelqEntry), toDlqEntry(redriven)], now);
    expect(lines[0]).toMatch(/^MESSAGE ID\s+BATCH ID\s+CODE\s+REASON\s+AGE\s+RECV$/);
    expect(lines[1]).toContain("batch-7");
    expect(lines[1]).toContain("MODEL_REJECTED_REQUEST");
    expect(lines[1]).toContain("The model rejected every text: ValidationException");
    expect(lines[1]).toMatch(/\s1h\s+3$/);
    expect(lines[2]).toContain("b-redriven");
    expect(lines[2]).toContain("REDRIVE");
    expect(lines[2]).toMatch(/\s5m\s+6$/);
    expect(lines.join("\n")).not.toContain("secret text");
  });

  it("summarises an entry as JSON without its body", () => {
    const summary = entrySummary(toDlqEntry(labelqEntry), now);
    expect(summary).toMatchObject({ batchId: "batch-7", code: "MODEL_REJECTED_REQUEST", ageSeconds: 3600, receiveCount: 3, failedAt: "2026-11-25T11:00:00.000Z" });
    expect(JSON.stringify(summary)).not.toContain("secret text");
  });

  it("shows one entry in full with the body pretty-printed", () => {
    const text = formatEntry(toDlqEntry(labelqEntry), now).join("\n");
    expect(text).toMatch(/reason:\s+The model rejected every text:\n ValidationException/);
    expect(text).toContain(`${DLQ_ATTRIBUTES.sourceQueue} = http://sqs.local/000000000000/lq-requests`);
    expect(text).toContain('"text": "secret text"');
    expect(formatEntry(toDlqEntry({ MessageId: "m", Body: "not json" }), now).at(-1)).toBe("not json");
  });
});
