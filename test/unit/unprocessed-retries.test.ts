import { describe, expect, it } from "vitest";
import { StoreError } from "../../src/core/errors/errors.ts";
import { withUnprocessedRetries } from "../../src/adapters/dynamodb/unprocessed-retries.ts";
import { rejection } from "../support/fakes.ts";

describe("withUnprocessedRetries", () => {
  it("re-sends what a batch call left unprocessed until nothing is left", async () => {
    const sent: string[][] = [];
    await withUnprocessedRetries(
      ["a", "b", "c"],
      (request) => {
        sent.push(request);
        return Promise.resolve(request.length > 1 ? request.slice(1) : undefined);
      },
      { baseDelayMs: 1 },
    );
    expect(sent).toEqual([["a", "b", "c"], ["b", "c"], ["c"]]);
  });

  it("gives up after six attempts with a StoreError", async () => {
    let calls = 0;
    const error = await rejection(
      withUnprocessedRetries(
        ["a"],
        (request) => {
          calls += 1;
          return Promise.resolve(request);
        },
        { baseDelayMs: 1 },
      ),
    );
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toBe("DynamoDB left items unprocessed after 6 attempts");
    expect(calls).toBe(6);
  });

  it("does not retry a call that threw: the SDK retried it already", async () => {
    let calls = 0;
    const error = await rejection(
      withUnprocessedRetries(["a"], () => {
        calls += 1;
        return Promise.reject(new Error("ProvisionedThroughputExceededException"));
      }),
    );
    expect((error as Error).message).toBe("ProvisionedThroughputExceededException");
    expect(calls).toBe(1);
  });

  it("stops waiting to re-send as soon as its signal aborts", async () => {
    const stop = new AbortController();
    let calls = 0;
    const error = await rejection(
      withUnprocessedRetries(
        ["a"],
        (request) => {
          calls += 1;
          stop.abort(new Error("worker stopping"));
          return Promise.resolve(request);
        },
        // A backoff far longer than any test: only the signal can end it.
        { baseDelayMs: 3_600_000, signal: stop.signal },
      ),
    );
    expect((error as Error).message).toBe("worker stopping");
    expect(calls).toBe(1);
  });
});
