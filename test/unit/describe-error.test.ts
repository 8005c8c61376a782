import { describe, expect, it } from "vitest";
import { describeError } from "../../src/cli/describe-error.ts";
import { ConfigError, InvalidRequestError } from "../../src/core/errors/errors.ts";

/** A Node system error as the runtime makes it (code, syscall, hostname...). */
function systemError(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), fields);
}

describe("describeError: one line a user can act on, never a stack", () => {
  it("prints labelq errors as code and message", () => {
    expect(describeError(new InvalidRequestError("nope.jsonl: no such file"))).toBe("INVALID_REQUEST: nope.jsonl: no such file");
    expect(describeError(new ConfigError(['LABELQ_CONCURRENCY="lots": expected an integer', "LABELQ_WAIT_TIME_S: at most 20"]))).toBe(
      'CONFIG_INVALID: invalid configuration: LABELQ_CONCURRENCY="lots": expected an integer; LABELQ_WAIT_TIME_S: at most 20',
    );
  });

  it("names the host a network error could not reach and where endpoints are set, wrapped or not", () => {
    const dns = systemError("getaddrinfo ENOTFOUND dynamodb.us-east-1.amazonaws.com", { code: "ENOTFOUND", hostname: "dynamodb.us-east-1.amazonaws.com" });
    expect(describeError(dns)).toMatch(/^cannot reach dynamodb\.us-east-1\.amazonaws\.com \(ENOTFOUND\): check the endpoint variables/);
    const wrapped = new Error("request failed", { cause: systemError("connect ECONNREFUSED 127.0.0.1:9324", { code: "ECONNREFUSED", address: "127.0.0.1" }) });
    expect(describeError(wrapped)).toMatch(/^cannot reach 127\.0\.0\.1 \(ECONNREFUSED\)/);
  });

  it("explains missing AWS credentials", () => {
    const error = Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" });
    expect(describeError(error)).toMatch(/^no AWS credentials found.*AWS_ACCESS_KEY_ID=test/);
  });

  it("keeps an SDK error's name, and only the first line of any message", () => {
    const error = Object.assign(new Error("The specified queue does not exist.\nmore detail"), { name: "QueueDoesNotExist" });
    expect(describeError(error)).toBe("QueueDoesNotExist: The specified queue does not exist.");
    expect(describeError(new AggregateError([new InvalidRequestError("first"), new Error("second")], "two failed"))).toBe("INVALID_REQUEST: first (and 1 more)");
  });
});
