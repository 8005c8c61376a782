import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../src/core/errors/errors.ts";
import { resolveReplyTo } from "../../src/app/worker/reply-to.ts";
import { caught } from "../support/fakes.ts";

const RESULTS = "https://sqs.us-east-1.amazonaws.com/123456789012/labelq-results";
const TEAM_A = "https://sqs.us-east-1.amazonaws.com/123456789012/team-a-results";
const allowlist = [TEAM_A, "https://sqs.us-east-1.amazonaws.com/123456789012/tenant-*"];

describe("resolveReplyTo", () => {
  it("uses the default results queue when the request names no replyTo", () => {
    expect(resolveReplyTo(undefined, RESULTS, allowlist)).toBe(RESULTS);
  });

  it("accepts the default results queue as replyTo even with an empty allow-list", () => {
    expect(resolveReplyTo(RESULTS, RESULTS, [])).toBe(RESULTS);
  });

  it("accepts a replyTo listed exactly", () => {
    expect(resolveReplyTo(TEAM_A, RESULTS, allowlist)).toBe(TEAM_A);
  });

  it("accepts a replyTo under a prefix entry ending in *", () => {
    const url = "https://sqs.us-east-1.amazonaws.com/123456789012/tenant-42-results";
    expect(resolveReplyTo(url, RESULTS, allowlist)).toBe(url);
  });

  it("treats an entry without * as exact: a longer URL with the same start is refused", () => {
    expect(() => resolveReplyTo(`${TEAM_A}-evil`, RESULTS, allowlist)).toThrow(InvalidRequestError);
  });

  it("refuses a replyTo that is not allow-listed with REPLY_TO_NOT_ALLOWED, naming the URL and the setting", () => {
    const url = "https://sqs.us-east-1.amazonaws.com/999999999999/attacker";
    const error = caught(() => resolveReplyTo(url, RESULTS, allowlist));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).code).toBe("REPLY_TO_NOT_ALLOWED");
    expect((error as InvalidRequestError).retryable).toBe(false);
    expect((error as Error).message).toContain(url);
    expect((error as Error).message).toContain("LABELQ_REPLY_TO_ALLOWLIST");
  });

  it("refuses every other replyTo when the allow-list is empty", () => {
    expect(() => resolveReplyTo(TEAM_A, RESULTS, [])).toThrow(InvalidRequestError);
  });
});
