import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../src/core/errors/errors.ts";
import { checkFilter, matchesFilter, pacer, parseCodes, parseDuration } from "../../src/app/dlq/dlq-replay.ts";
import { caught } from "../support/fakes.ts";

describe("parseDuration", () => {
  it("reads a number with a unit, and sums compound durations", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("10m")).toBe(600_000);
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(parseDuration("1d")).toBe(86_400_000);
    expect(parseDuration("1w")).toBe(7 * 86_400_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("1.5h")).toBe(5_400_000);
    expect(parseDuration(" 2H ")).toBe(7_200_000);
  });

  it("refuses a bare number, an unknown unit, a negative or an empty value, naming the input", () => {
    for (const bad of ["10", "10x", "-5m", "", "m", "10 m", "1h-30m", "ten minutes"]) {
      const error = caught(() => parseDuration(bad));
      expect(error, bad).toBeInstanceOf(InvalidRequestError);
      expect((error as Error).message).toContain(`"${bad}"`);
    }
  });
});

describe("parseCodes", () => {
  it("takes repeated values and comma lists, trims and upper-cases them, drops empties and duplicates", () => {
    expect([...parseCodes(["MODEL_UNAVAILABLE", "model_throttled, redrive", "MODEL_UNAVAILABLE,"])]).toEqual([
      "MODEL_UNAVAILABLE",
      "MODEL_THROTTLED",
      "REDRIVE",
    ]);
  });

  it("refuses something that is not an error code", () => {
    expect(caught(() => parseCodes(["MODEL UNAVAILABLE"]))).toBeInstanceOf(InvalidRequestError);
    expect(caught(() => parseCodes(["*"]))).toBeInstanceOf(InvalidRequestError);
  });
});

describe("matchesFilter", () => {
  const now = Date.parse("2026-11-25T12:00:00Z");
  const entry = (over: Partial<{ code: string; batchId: string | undefined; failedAt: number | undefined; sentAt: number | undefined }> = {}) => ({
    code: "MODEL_UNAVAILABLE",
    batchId: "b-1",
    failedAt: now - 30 * 60_000,
    sentAt: now - 31 * 60_000,
    ...over,
  });

  it("passes everything with an empty filter", () => {
    expect(matchesFilter(entry(), {}, now)).toBe(true);
    expect(matchesFilter(entry({ failedAt: undefined, sentAt: undefined, batchId: undefined }), {}, now)).toBe(true);
  });

  it("matches any of the codes, and REDRIVE for entries the redrive policy moved", () => {
    expect(matchesFilter(entry(), { codes: new Set(["MODEL_THROTTLED", "MODEL_UNAVAILABLE"]) }, now)).toBe(true);
    expect(matchesFilter(entry(), { codes: new Set(["INVALID_REQUEST"]) }, now)).toBe(false);
    expect(matchesFilter(entry({ code: "REDRIVE" }), { codes: new Set(["REDRIVE"]) }, now)).toBe(true);
  });

  it("matches the batch id exactly; an entry without one never matches a batch filter", () => {
    expect(matchesFilter(entry(), { batchId: "b-1" }, now)).toBe(true);
    expect(matchesFilter(entry(), { batchId: "b-10" }, now)).toBe(false);
    expect(matchesFilter(entry({ batchId: undefined }), { batchId: "b-1" }, now)).toBe(false);
  });

  it("compares the age since the failure (labelq-failed-at) with --older-than and --newer-than", () => {
    const e = entry(); // failed 30 minutes ago
    expect(matchesFilter(e, { olderThanMs: 10 * 60_000 }, now)).toBe(true);
    expect(matchesFilter(e, { olderThanMs: 60 * 60_000 }, now)).toBe(false);
    expect(matchesFilter(e, { newerThanMs: 60 * 60_000 }, now)).toBe(true);
    expect(matchesFilter(e, { newerThanMs: 10 * 60_000 }, now)).toBe(false);
    expect(matchesFilter(e, { olderThanMs: 10 * 60_000, newerThanMs: 60 * 60_000 }, now)).toBe(true);
  });

  it("uses SentTimestamp when there is no labelq-failed-at (redrive), and never matches an age filter without either", () => {
    expect(matchesFilter(entry({ failedAt: undefined, sentAt: now - 3 * 3_600_000 }), { olderThanMs: 2 * 3_600_000 }, now)).toBe(true);
    expect(matchesFilter(entry({ failedAt: undefined, sentAt: undefined }), { olderThanMs: 1 }, now)).toBe(false);
    expect(matchesFilter(entry({ failedAt: undefined, sentAt: undefined }), { newerThanMs: 3_600_000 }, now)).toBe(false);
  });

  it("needs every filter to match", () => {
    const filter = { codes: new Set(["MODEL_UNAVAILABLE"]), batchId: "b-1", olderThanMs: 60 * 60_000 };
    expect(matchesFilter(entry(), filter, now)).toBe(false);
    expect(matchesFilter(entry({ failedAt: now - 2 * 3_600_000 }), filter, now)).toBe(true);
  });
});

describe("checkFilter", () => {
  it("refuses an age window that can hold nothing", () => {
    expect(caught(() => checkFilter({ olderThanMs: 2 * 3_600_000, newerThanMs: 3_600_000 }))).toBeInstanceOf(InvalidRequestError);
    expect(() => checkFilter({ olderThanMs: 3_600_000, newerThanMs: 2 * 3_600_000 })).not.toThrow();
  });
});

describe("pacer", () => {
  it("spaces calls by 1/rate seconds and lets the first one through at once", async () => {
    const waits: number[] = [];
    const pace = pacer(10, (ms) => {
      waits.push(ms);
      return Promise.resolve();
    });
    for (let k = 0; k < 4; k++) await pace();
    expect(waits).toHaveLength(3);
    // Back-to-back calls: each waits about one more interval (100 ms) than the one before.
    expect(waits[0]).toBeGreaterThan(90);
    expect(waits[2]).toBeGreaterThan(290);
    expect(waits[2]).toBeLessThanOrEqual(300);
  });
});
