import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../src/core/errors/errors.ts";
import { findModel, MODELS } from "../../src/core/models/model-registry.ts";
import { acceptsSampling, chooseSampling, type SamplingRules } from "../../src/core/models/sampling.ts";

const both: SamplingRules = { accepts: ["temperature", "topP"], oneOf: false, defaults: { temperature: 0.5, topP: 0.9 } };
const oneOf: SamplingRules = { accepts: ["temperature", "topP"], oneOf: true, defaults: { temperature: 0.5 } };
const temperatureOnly: SamplingRules = { accepts: ["temperature"], oneOf: false, defaults: { temperature: 0.7 } };

describe("chooseSampling", () => {
  it("layers the request over the taxonomy over the model's defaults on a model that takes both", () => {
    expect(chooseSampling("m", both)).toEqual({ temperature: 0.5, topP: 0.9 });
    expect(chooseSampling("m", both, {}, { topP: 0.8 })).toEqual({ temperature: 0.5, topP: 0.8 });
    expect(chooseSampling("m", both, { temperature: 0.1 }, { temperature: 0.3, topP: 0.8 })).toEqual({ temperature: 0.1, topP: 0.8 });
  });

  it("sends only one parameter to a one-of model: the request's, else the taxonomy's only one, else the model's default", () => {
    expect(chooseSampling("m", oneOf)).toEqual({ temperature: 0.5 });
    expect(chooseSampling("m", oneOf, {}, { temperature: 0.3, topP: 0.8 })).toEqual({ temperature: 0.3 });
    expect(chooseSampling("m", oneOf, {}, { topP: 0.8 })).toEqual({ topP: 0.8 });
    expect(chooseSampling("m", oneOf, { topP: 0.7 }, { temperature: 0.3, topP: 0.8 })).toEqual({ topP: 0.7 });
    expect(chooseSampling("m", oneOf, { temperature: 0.2 }, { topP: 0.8 })).toEqual({ temperature: 0.2 });
  });

  it("refuses a request naming both on a one-of model with INVALID_REQUEST saying what it takes", () => {
    const call = () => chooseSampling("claude-sonnet", oneOf, { temperature: 0.2, topP: 0.8 });
    expect(call).toThrow(InvalidRequestError);
    expect(call).toThrow('Model "claude-sonnet" cannot take temperature and topP: it takes temperature or topP, not both');
    try {
      call();
    } catch (error) {
      expect((error as InvalidRequestError).code).toBe("INVALID_REQUEST");
      expect((error as InvalidRequestError).retryable).toBe(false);
    }
  });

  it("refuses a request parameter the model does not take, but drops it silently from the taxonomy's defaults", () => {
    expect(() => chooseSampling("t", temperatureOnly, { topP: 0.5 })).toThrow('Model "t" cannot take topP: it takes temperature');
    expect(chooseSampling("t", temperatureOnly, {}, { temperature: 0.4, topP: 0.8 })).toEqual({ temperature: 0.4 });
  });
});

describe("acceptsSampling", () => {
  it("tells whether a model can take a request's overrides", () => {
    expect(acceptsSampling({ sampling: both }, { temperature: 0.1, topP: 0.2 })).toBe(true);
    expect(acceptsSampling({ sampling: oneOf }, { temperature: 0.1, topP: 0.2 })).toBe(false);
    expect(acceptsSampling({ sampling: oneOf }, { topP: 0.2 })).toBe(true);
    expect(acceptsSampling({ sampling: temperatureOnly }, { topP: 0.2 })).toBe(false);
    expect(acceptsSampling({ sampling: temperatureOnly })).toBe(true);
  });
});

describe("the catalogue's sampling rules", () => {
  it("never sends both temperature and topP to Claude Sonnet 4.5 or Haiku 4.5", () => {
    for (const alias of ["claude-sonnet", "claude-haiku"]) {
      const m = findModel(alias)!;
      expect(m.sampling.oneOf, alias).toBe(true);
      expect(Object.keys(chooseSampling(alias, m.sampling, {}, { temperature: 0.5, topP: 0.9 })), alias).toHaveLength(1);
    }
  });

  it("has defaults only for parameters each model takes, and at most one on a one-of model", () => {
    for (const m of MODELS) {
      const names = Object.keys(m.sampling.defaults);
      expect(names.every((p) => (m.sampling.accepts as string[]).includes(p)), m.alias).toBe(true);
      if (m.sampling.oneOf) expect(names.length, m.alias).toBeLessThanOrEqual(1);
    }
  });
});
