import { InvalidRequestError } from "../errors/errors.ts";
import type { InferenceParams, ResolvedPrompt } from "../prompts/prompt-registry.ts";

/** A sampling parameter labelq can send in Converse's inferenceConfig. */
export type SamplingParam = "temperature" | "topP";

/** Sampling values; a parameter left out is not sent and the model uses its own default. */
export type Sampling = Partial<Record<SamplingParam, number>>;

/**
 * Which sampling parameters a model takes. Claude Sonnet 4.5 and Haiku 4.5 take temperature or
 * topP but not both: ValidationException "`temperature` and `top_p` cannot both be specified
 * for this model. Please use only one." (mem0ai/mem0#3891, BerriAI/litellm#15070).
 */
export interface SamplingRules {
  /** The parameters the model accepts at all. */
  accepts: readonly SamplingParam[];
  /** At most one of `accepts` in one request. */
  oneOf: boolean;
  /** Sent when neither the request nor the taxonomy says otherwise (only accepted parameters). */
  defaults: Sampling;
}

/**
 * The sampling parameters to send to a model, from three layers: the request's overrides, then
 * the taxonomy's defaults, then the model's. A parameter the model does not accept is dropped
 * from the defaults but refused in the request (InvalidRequestError naming what the model
 * allows), so a request never silently gets other sampling than it asked for. For a one-of
 * model the request's choice wins, then a taxonomy naming only one; a taxonomy naming both yields the model's default choice.
 */
export function chooseSampling(alias: string, rules: SamplingRules, request: Sampling = {}, taxonomy: Sampling = {}): Sampling {
  const asked = params(request);
  if (!acceptsSampling({ sampling: rules }, request)) {
    throw new InvalidRequestError(`Model "${alias}" cannot take ${asked.join(" and ")}: ${allowed(rules)}`, [
      `inference: ${allowed(rules)}`,
    ]);
  }
  const merged: Sampling = {};
  for (const p of rules.accepts) {
    const value = request[p] ?? taxonomy[p] ?? rules.defaults[p];
    if (value !== undefined) merged[p] = value;
  }
  if (!rules.oneOf || params(merged).length <= 1) return merged;
  const keep = asked[0] ?? preferred(rules, taxonomy);
  return { [keep]: merged[keep] };
}

/** True when a model can take a request's sampling overrides (chooseSampling would not refuse them). */
export function acceptsSampling(model: { sampling: SamplingRules }, request: Sampling = {}): boolean {
  const asked = params(request);
  return asked.every((p) => model.sampling.accepts.includes(p)) && !(model.sampling.oneOf && asked.length > 1);
}

/** What a model allows, in words, for error messages and docs. */
export function allowed(rules: SamplingRules): string {
  if (rules.accepts.length === 0) return "it takes no sampling parameters";
  if (rules.oneOf && rules.accepts.length > 1) return `it takes ${rules.accepts.join(" or ")}, not both`;
  return `it takes ${rules.accepts.join(" and ")}`;
}

function params(s: Sampling): SamplingParam[] {
  return (Object.keys(s) as SamplingParam[]).filter((p) => s[p] !== undefined);
}

/** For a one-of model: the taxonomy's parameter when it names only one, else the model's default one, else the first accepted. */
function preferred(rules: SamplingRules, taxonomy: Sampling): SamplingParam {
  const fromTaxonomy = params(taxonomy).filter((p) => rules.accepts.includes(p));
  if (fromTaxonomy.length === 1) return fromTaxonomy[0]!;
  return params(rules.defaults).find((p) => rules.accepts.includes(p)) ?? rules.accepts[0]!;
}

/**
 * The inference parameters a call is made with: a request's overrides win over the
 * taxonomy's (manifest), which win over the model's defaults, keeping only the sampling
 * parameters the model takes (an override it cannot take is an InvalidRequestError);
 * maxTokens is the model's limit.
 */
export function resolveInference(
  prompt: Pick<ResolvedPrompt, "inference">,
  model: { alias: string; sampling: SamplingRules; maxOutputTokens: number },
  overrides: { temperature?: number; topP?: number } = {},
): InferenceParams {
  return { ...chooseSampling(model.alias, model.sampling, overrides, prompt.inference), maxTokens: model.maxOutputTokens };
}
