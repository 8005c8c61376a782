import { describe, expect, it } from "vitest";
import { listSummary } from "../../src/cli/dlq-format.ts";
import { formatTableReports } from "../../src/cli/tables-command.ts";

describe("listSummary (dlq list)", () => {
  it("counts what was listed, says the DLQ is empty, or that another reader holds what SQS counts", () => {
    expect(listSummary(3, "u", 3)).toBe("3 messages listed from u (about 3 in the queue); all are still in the DLQ");
    expect(listSummary(0, "u", 0)).toBe("the DLQ is empty (u)");
    expect(listSummary(0, "u", undefined)).toBe("the DLQ is empty (u)");
    expect(listSummary(0, "u", 2)).toMatch(/^no message could be read from u, though about 2 are in the queue: another reader has them hidden/);
  });
});

describe("formatTableReports (tables create)", () => {
  it("says nothing more when TTL is on, and how to turn it on by hand when turning it on failed", () => {
    expect(formatTableReports([{ table: "a", created: true, ttl: "enabled" }])).toBe("a: created, TTL on expiresAt enabled");
    const failed = formatTableReports([{ table: "a", created: false, ttl: "failed" }]);
    expect(failed).toMatch(/^a: exists, TTL on expiresAt failed$/m);
    expect(failed).toMatch(/labelq ignores expired records when it reads them; they are just not deleted/);
    expect(failed).toMatch(/aws dynamodb update-time-to-live --table-name <table> .*AttributeName=expiresAt$/m);
  });
});
