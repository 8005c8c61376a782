import { describe, expect, it } from "vitest";
import { CircuitBreakers } from "../../src/core/classify/circuit-breaker.ts";

/** Breakers on a clock the test moves by hand. */
function breakers(threshold: number, cooldownMs = 1_000) {
  const clock = { now: 0 };
  return { b: new CircuitBreakers({ threshold, cooldownMs }, () => clock.now), clock };
}

describe("CircuitBreakers", () => {
  it("start closed for every model, and know no model before it is used", () => {
    const { b } = breakers(1);
    expect(b.allow("m")).toBe(true);
    expect(b.state("m")).toBe("closed");
    expect(b.models()).toEqual([]);
  });

  it("open after the threshold, let one trial through after the cooldown, and close on success", () => {
    const { b, clock } = breakers(2);
    expect(b.failure("m")).toBe(false);
    expect(b.allow("m")).toBe(true);
    expect(b.failure("m")).toBe(true);
    expect(b.state("m")).toBe("open");
    expect(b.allow("m")).toBe(false);
    clock.now = 1_500;
    expect(b.state("m")).toBe("half-open");
    expect(b.allow("m")).toBe(true);
    expect(b.allow("m")).toBe(false);
    b.success("m");
    expect(b.state("m")).toBe("closed");
    expect(b.allow("m")).toBe(true);
  });

  it("count only failures in a row: a success in between starts the count again", () => {
    const { b } = breakers(2);
    b.failure("m");
    b.success("m");
    expect(b.failure("m")).toBe(false);
    expect(b.state("m")).toBe("closed");
    expect(b.failure("m")).toBe(true);
  });

  it("re-open at once when the half-open trial fails, with a fresh cooldown", () => {
    const { b, clock } = breakers(3);
    for (let k = 0; k < 3; k++) b.failure("m");
    clock.now = 2_000;
    expect(b.allow("m")).toBe(true);
    expect(b.failure("m")).toBe(true);
    expect(b.state("m")).toBe("open");
    clock.now = 2_999;
    expect(b.allow("m")).toBe(false);
    clock.now = 3_000;
    expect(b.allow("m")).toBe(true);
  });

  it("give the trial slot back on release, so a trial that ended without a verdict does not shut the model for good", () => {
    const { b, clock } = breakers(1);
    b.failure("m");
    clock.now = 1_000;
    expect(b.allow("m")).toBe(true);
    expect(b.allow("m")).toBe(false);
    b.release("m");
    expect(b.state("m")).toBe("half-open");
    expect(b.allow("m")).toBe(true);
  });

  it("keep one breaker per model", () => {
    const { b } = breakers(1);
    b.failure("a");
    expect(b.allow("a")).toBe(false);
    expect(b.allow("b")).toBe(true);
    b.release("b");
    expect(b.state("b")).toBe("closed");
    expect(b.models()).toEqual(["a"]);
  });
});
