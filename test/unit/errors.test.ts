import { describe, expect, it } from "vitest";
import {
  ConfigError,
  InvalidRequestError,
  LabelqError,
  ModelCallError,
  QueueError,
  ShuttingDownError,
  TaxonomyError,
  errorCode,
  isRetryable,
} from "../../src/errors/errors.ts";

describe("labelq errors", () => {
  it("decide retryability where they are made", () => {
    expect(isRetryable(new ConfigError(["X: bad"]))).toBe(false);
    expect(isRetryable(new InvalidRequestError("bad"))).toBe(false);
    expect(isRetryable(new TaxonomyError("TAXONOMY_INVALID", "bad"))).toBe(false);
    expect(isRetryable(new QueueError("sqs down"))).toBe(true);
    expect(isRetryable(new ShuttingDownError())).toBe(true);
  });

  it("make every model error retryable except a rejected request", () => {
    for (const code of ["MODEL_THROTTLED", "MODEL_UNAVAILABLE", "MODEL_TIMEOUT", "MODEL_ERROR"] as const) {
      expect(new ModelCallError(code, "m", "x").retryable, code).toBe(true);
    }
    expect(new ModelCallError("MODEL_REJECTED_REQUEST", "m", "x").retryable).toBe(false);
  });

  it("count an unknown error as retryable, so nothing is dropped, with code INTERNAL", () => {
    expect(isRetryable(new Error("?"))).toBe(true);
    expect(isRetryable("string")).toBe(true);
    expect(errorCode(new Error("?"))).toBe("INTERNAL");
    expect(errorCode(new InvalidRequestError("bad", [], "MODEL_NOT_ALLOWED"))).toBe("MODEL_NOT_ALLOWED");
  });

  it("name themselves after their class and list config issues in the message", () => {
    const e = new ConfigError(["A=1: too small", "B: required"]);
    expect(e).toBeInstanceOf(LabelqError);
    expect(e.name).toBe("ConfigError");
    expect(e.message).toBe("Invalid configuration:\n  - A=1: too small\n  - B: required");
  });
});
