import { awsError, type AwsError } from "./aws-errors.ts";
import { lookUpModel, type BedrockModel } from "./bedrock-models.ts";
import type { ConverseInput } from "./converse-request.ts";
import type { LenientRule } from "./strictness.ts";

/**
 * What the emulator treats an unknown model id as when the unknown-model rule is lenient:
 * no output cap, every toolChoice, both sampling parameters, no prompt caching.
 */
const ANY_MODEL: BedrockModel = {
  name: "unknown model (lenient)",
  baseId: "",
  onDemand: true,
  profiles: [],
  contextTokens: Number.POSITIVE_INFINITY,
  maxOutputTokens: Number.POSITIVE_INFINITY,
  sampling: "any",
  toolChoices: ["auto", "any", "tool"],
  promptCacheMinTokens: undefined,
  outputBurndown: 1,
  tokenizer: "approximate",
  sources: [],
};

// Messages as the service words them (sources in docs/bedrock-fidelity.md).
const INVALID_MODEL = "The provided model identifier is invalid.";
const onDemandNotSupported = (modelId: string) =>
  `Invocation of model ID ${modelId} with on-demand throughput isn\u2019t supported. Retry your request with the ID or ARN of an inference profile that contains this model.`;
const BOTH_SAMPLING = "The model returned the following errors: `temperature` and `top_p` cannot both be specified for this model. Please use only one.";
const maxTokensOverCap = (cap: number) => `The maximum tokens you requested exceeds the model limit of ${cap}. Try again with a maximum tokens value that is lower than ${cap}.`;
const INPUT_TOO_LONG = "Input is too long for requested model.";
const NO_PROMPT_CACHE = "You invoked an unsupported model or your request did not allow prompt caching. See the documentation for more information.";

/** The geography whose profiles a Region may call (us-east-1 -> us), or undefined for Regions without one. */
function geographyOf(region: string): string | undefined {
  if (region.startsWith("us-")) return "us";
  if (region.startsWith("eu-")) return "eu";
  if (region.startsWith("ap-")) return "apac";
  return undefined;
}

/**
 * The model a request names, or the refusal Bedrock answers when it names none it serves.
 * region is the Region the request was signed for, when known: a geographic profile answers
 * only from its own geography's Regions; global. profiles from any.
 */
export function resolveModel(modelId: string, lenient: ReadonlySet<LenientRule>, region?: string): BedrockModel | AwsError {
  const found = lookUpModel(modelId);
  if (found === undefined) return lenient.has("unknown-model") ? ANY_MODEL : awsError("ValidationException", INVALID_MODEL);
  const { model, profile } = found;
  if (profile === undefined) {
    if (!model.onDemand && !lenient.has("inference-profile")) return awsError("ValidationException", onDemandNotSupported(modelId));
    return model;
  }
  // A prefix Bedrock has no profile for (e.g. "us." for Llama 3 70B) is an unknown id.
  if (!(model.profiles as readonly string[]).includes(profile) && !lenient.has("unknown-model")) return awsError("ValidationException", INVALID_MODEL);
  if (region !== undefined && profile !== "global" && geographyOf(region) !== profile && !lenient.has("profile-region")) return awsError("ValidationException", INVALID_MODEL);
  return model;
}

/**
 * The error Bedrock answers when this model cannot take this request, or undefined. Checked in
 * the order the fidelity doc lists. inputTokens: the request's input as the model counts it.
 */
export function refuseForModel(model: BedrockModel, input: ConverseInput, lenient: ReadonlySet<LenientRule>, inputTokens: number): AwsError | undefined {
  if (input.tools !== undefined && !lenient.has("tool-choice")) {
    if (model.toolChoices === "none") return awsError("ValidationException", "This model doesn't support tool use.");
    const choice = input.tools.choice;
    if (choice !== undefined && !model.toolChoices.includes(choice)) {
      return awsError("ValidationException", `This model doesn't support the toolConfig.toolChoice.${choice} field. Remove toolConfig.toolChoice.${choice} and try again.`);
    }
  }
  if (model.sampling === "temperature-or-top-p" && input.sampling.temperature && input.sampling.topP && !lenient.has("sampling")) {
    return awsError("ValidationException", BOTH_SAMPLING);
  }
  if (input.maxTokens !== undefined && input.maxTokens > model.maxOutputTokens && !lenient.has("max-tokens")) {
    return awsError("ValidationException", maxTokensOverCap(model.maxOutputTokens));
  }
  if (input.cachePoints > 0 && model.promptCacheMinTokens === undefined && !lenient.has("prompt-cache-model")) {
    return awsError("AccessDeniedException", NO_PROMPT_CACHE);
  }
  if (inputTokens > model.contextTokens && !lenient.has("context-window")) return awsError("ValidationException", INPUT_TOO_LONG);
  return undefined;
}
