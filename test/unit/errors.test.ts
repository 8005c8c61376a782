import { describe, expect, it } from "vitest";
import {
  ConfigError,
  InvalidRequestError,
  LabelqError,
  ModelCallError,
  QueueError,
  ShuttingDownError,
  StoreError,
  TaxonomyError,
  UnexpectedError,
  errorCode,
  isRetryable,
  toLabelqError,
} from "../../src/core/errors/errors.ts";

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

  it("report an error labelq did not raise as UNEXPECTED_ERROR, not retryable, naming the original error", () => {
    const plain = new TypeError("Cannot read properties of undefined");
    const wrapped = toLabelqError(plain);
    expect(wrapped).toBeInstanceOf(UnexpectedError);
    expect(wrapped.code).toBe("UNEXPECTED_ERROR");
    expect(wrapped.retryable).toBe(false);
    expect(wrapped.message).toBe("Unexpected error (TypeError: Cannot read properties of undefined)");
    expect(wrapped.cause).toBe(plain);
    expect(isRetryable(new Error("?"))).toBe(false);
    expect(errorCode("a string")).toBe("UNEXPECTED_ERROR");
    expect(toLabelqError("a string").message).toBe("Unexpected error (a string)");
  });

  it("keep labelq's own errors as they are", () => {
    const store = new StoreError("down");
    expect(toLabelqError(store)).toBe(store);
    expect(errorCode(new InvalidRequestError("bad", [], "MODEL_NOT_ALLOWED"))).toBe("MODEL_NOT_ALLOWED");
  });

  it("name themselves after their class and list config issues in the message", () => {
    const e = new ConfigError(["A=1: too small", "B: required"]);
    expect(e).toBeInstanceOf(LabelqError);
    expect(e.name).toBe("ConfigError");
    expect(e.message).toBe("Invalid configuration:\n  - A=1: too small\n  - B: required");
  });
});
