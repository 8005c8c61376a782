import { describe, expect, it } from "vitest";
import { CircuitBreakers } from "../../src/core/classify/circuit-breaker.ts";
import { callOnChain, type ModelChoice } from "../../src/core/classify/model-choice.ts";
import { ModelCallError } from "../../src/core/errors/errors.ts";
import { findModel } from "../../src/core/models/model-registry.ts";
import { rejection, silentLogger } from "../support/fakes.ts";

function choice(alias: string): ModelChoice {
  const model = findModel(alias);
  if (!model) throw new Error(`${alias} is not in the model registry`);
  return { model, inference: { ...model.sampling.defaults, maxTokens: 1000 } };
}

const llama = choice("llama3.3-70b");
const haiku = choice("claude-haiku");
const chain = [llama, haiku];

/** A call that answers with the model's alias, or fails as `failures` says for that model. */
function scripted(failures: Partial<Record<string, Error>>) {
  const asked: string[] = [];
  const call = (c: ModelChoice): Promise<string> => {
    asked.push(c.model.alias);
    const failure = failures[c.model.alias];
    return failure ? Promise.reject(failure) : Promise.resolve(c.model.alias);
  };
  return { asked, call };
}

const down = (c: ModelChoice) => new ModelCallError("MODEL_UNAVAILABLE", c.model.modelId, "ServiceUnavailableException");

describe("callOnChain", () => {
  it("answers with the first model when it works, and tries no other", async () => {
    const { asked, call } = scripted({});
    const outcome = await callOnChain(chain, call, { logger: silentLogger() });
    expect(outcome).toEqual({ kind: "answered", choice: llama, value: "llama3.3-70b" });
    expect(asked).toEqual(["llama3.3-70b"]);
  });

  it("hands the call to the next model when one is unavailable or timed out, and counts it on that model's breaker", async () => {
    const breakers = new CircuitBreakers({ threshold: 1, cooldownMs: 60_000 });
    const { asked, call } = scripted({ "llama3.3-70b": new ModelCallError("MODEL_TIMEOUT", llama.model.modelId, "ModelTimeoutException") });
    const outcome = await callOnChain(chain, call, { logger: silentLogger(), breakers });
    expect(outcome).toMatchObject({ kind: "answered", choice: haiku });
    expect(asked).toEqual(["llama3.3-70b", "claude-haiku"]);
    expect(breakers.state("llama3.3-70b")).toBe("open");
    expect(breakers.state("claude-haiku")).toBe("closed");
  });

  it("skips a model whose breaker is open without calling it", async () => {
    const breakers = new CircuitBreakers({ threshold: 1, cooldownMs: 60_000 });
    breakers.failure("llama3.3-70b");
    const { asked, call } = scripted({});
    expect(await callOnChain(chain, call, { logger: silentLogger(), breakers })).toMatchObject({ kind: "answered", choice: haiku });
    expect(asked).toEqual(["claude-haiku"]);
  });

  it("throws a retryable MODEL_UNAVAILABLE without any call when every breaker on the chain is open", async () => {
    const breakers = new CircuitBreakers({ threshold: 1, cooldownMs: 60_000 });
    for (const alias of ["llama3.3-70b", "claude-haiku"]) breakers.failure(alias);
    const { asked, call } = scripted({});
    const error = await rejection(callOnChain(chain, call, { logger: silentLogger(), breakers }));
    expect(error).toMatchObject({ code: "MODEL_UNAVAILABLE", retryable: true });
    expect((error as Error).message).toContain("circuit open for claude-haiku");
    expect(asked).toEqual([]);
  });

  it("throws the last model's unavailability when no fallback is left", async () => {
    const failure = down(haiku);
    const { call } = scripted({ "llama3.3-70b": down(llama), "claude-haiku": failure });
    expect(await rejection(callOnChain(chain, call, { logger: silentLogger() }))).toBe(failure);
  });

  it("ends with 'rejected' on a non-retryable refusal, without trying a fallback", async () => {
    const refused = new ModelCallError("MODEL_REJECTED_REQUEST", llama.model.modelId, "ValidationException");
    const { asked, call } = scripted({ "llama3.3-70b": refused });
    expect(await callOnChain(chain, call, { logger: silentLogger() })).toEqual({ kind: "rejected", choice: llama, error: refused });
    expect(asked).toEqual(["llama3.3-70b"]);
  });

  it("throws a throttle without falling back: the quota is shared, not broken, and the breaker is not charged", async () => {
    const breakers = new CircuitBreakers({ threshold: 1, cooldownMs: 60_000 });
    const throttled = new ModelCallError("MODEL_THROTTLED", llama.model.modelId, "ThrottlingException");
    const { asked, call } = scripted({ "llama3.3-70b": throttled });
    expect(await rejection(callOnChain(chain, call, { logger: silentLogger(), breakers }))).toBe(throttled);
    expect(asked).toEqual(["llama3.3-70b"]);
    expect(breakers.state("llama3.3-70b")).toBe("closed");
  });

  it("rethrows when the worker is stopping, with no breaker failure and no fallback", async () => {
    const breakers = new CircuitBreakers({ threshold: 1, cooldownMs: 60_000 });
    const abort = new AbortController();
    const stopped = down(llama);
    const { asked, call } = scripted({ "llama3.3-70b": stopped });
    abort.abort(new Error("stopping"));
    expect(await rejection(callOnChain(chain, call, { logger: silentLogger(), breakers }, abort.signal))).toBe(stopped);
    expect(asked).toEqual(["llama3.3-70b"]);
    expect(breakers.state("llama3.3-70b")).toBe("closed");
  });

  it("frees the half-open trial when the trial call is throttled, so the next call may try the model again", async () => {
    let now = 0;
    const breakers = new CircuitBreakers({ threshold: 1, cooldownMs: 1_000 }, () => now);
    breakers.failure("llama3.3-70b");
    now = 1_000;
    const throttled = new ModelCallError("MODEL_THROTTLED", llama.model.modelId, "ThrottlingException");
    await rejection(callOnChain([llama], scripted({ "llama3.3-70b": throttled }).call, { logger: silentLogger(), breakers }));
    const { asked, call } = scripted({});
    expect(await callOnChain([llama], call, { logger: silentLogger(), breakers })).toMatchObject({ kind: "answered" });
    expect(asked).toEqual(["llama3.3-70b"]);
    expect(breakers.state("llama3.3-70b")).toBe("closed");
  });

  it("skips a model whose daily quota is spent, without calling it, and falls back", async () => {
    const limiter = { pausedUntil: (alias: string) => (alias === "llama3.3-70b" ? Date.now() + 3_600_000 : undefined) };
    const { asked, call } = scripted({});
    expect(await callOnChain(chain, call, { logger: silentLogger(), limiter })).toMatchObject({ kind: "answered", choice: haiku });
    expect(asked).toEqual(["claude-haiku"]);
  });

  it("hands the call to the next model when the service says the daily quota is spent, without charging the breaker", async () => {
    const breakers = new CircuitBreakers({ threshold: 1, cooldownMs: 60_000 });
    const spent = new ModelCallError("MODEL_QUOTA_EXHAUSTED", llama.model.modelId, "Too many tokens per day", { resetsAt: Date.now() + 3_600_000 });
    const { asked, call } = scripted({ "llama3.3-70b": spent });
    expect(await callOnChain(chain, call, { logger: silentLogger(), breakers })).toMatchObject({ kind: "answered", choice: haiku });
    expect(asked).toEqual(["llama3.3-70b", "claude-haiku"]);
    expect(breakers.state("llama3.3-70b")).toBe("closed");
  });

  it("says no allowed model can run, naming each model and its reset, when every model's daily quota is spent", async () => {
    const resets = { "llama3.3-70b": Date.parse("2026-12-01T00:00:00Z"), "claude-haiku": Date.parse("2026-11-30T12:00:00Z") };
    const limiter = { pausedUntil: (alias: string) => resets[alias as keyof typeof resets] };
    const { asked, call } = scripted({});
    const error = await rejection(callOnChain(chain, call, { logger: silentLogger(), limiter }));
    expect(error).toBeInstanceOf(ModelCallError);
    expect(error).toMatchObject({ code: "MODEL_QUOTA_EXHAUSTED", resetsAt: resets["claude-haiku"] });
    expect((error as Error).message).toBe(
      "no allowed model can run: the daily token quota is spent for llama3.3-70b until 2026-12-01T00:00:00.000Z, claude-haiku until 2026-11-30T12:00:00.000Z",
    );
    expect(asked).toEqual([]);
  });

  it("says no allowed model can run when the last model's quota runs out during the call", async () => {
    const limiter = { pausedUntil: (alias: string) => (alias === "llama3.3-70b" ? Date.now() + 60_000 : undefined) };
    const spent = new ModelCallError("MODEL_QUOTA_EXHAUSTED", haiku.model.modelId, "Too many tokens per day", { resetsAt: Date.now() + 120_000 });
    const error = await rejection(callOnChain(chain, scripted({ "claude-haiku": spent }).call, { logger: silentLogger(), limiter }));
    expect(error).toMatchObject({ code: "MODEL_QUOTA_EXHAUSTED" });
    expect((error as Error).message).toMatch(/^no allowed model can run: .*llama3\.3-70b until .*claude-haiku until /);
  });

  it("throws the open breaker's MODEL_UNAVAILABLE, not a quota error, when the other model is only briefly shut", async () => {
    const breakers = new CircuitBreakers({ threshold: 1, cooldownMs: 60_000 });
    breakers.failure("claude-haiku");
    const limiter = { pausedUntil: (alias: string) => (alias === "llama3.3-70b" ? Date.now() + 3_600_000 : undefined) };
    const error = await rejection(callOnChain(chain, scripted({}).call, { logger: silentLogger(), breakers, limiter }));
    expect(error).toMatchObject({ code: "MODEL_UNAVAILABLE" });
  });
});
