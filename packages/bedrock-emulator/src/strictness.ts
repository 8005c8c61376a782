/**
 * The Bedrock rules the emulator enforces, by name. Every rule is strict unless the emulator's
 * `lenient` setting names it: a test that needs the old, forgiving behaviour asks for it.
 */
export const LENIENT_RULES = [
  /** A model id Bedrock does not know gets ValidationException; lenient: any id answers, with no model limits. */
  "unknown-model",
  /** A base model id that Bedrock serves only through an inference profile gets ValidationException. */
  "inference-profile",
  /** A geographic inference profile (us., eu., apac.) called from a Region outside its geography gets ValidationException. */
  "profile-region",
  /** Input longer than the model's context window gets ValidationException. */
  "context-window",
  /** temperature and topP together on a model that takes only one of them gets ValidationException. */
  "sampling",
  /** inferenceConfig.maxTokens above the model's output cap gets ValidationException. */
  "max-tokens",
  /** toolConfig / toolChoice members a model does not take get ValidationException. */
  "tool-choice",
  /** cachePoint on a model without prompt caching gets 403 AccessDeniedException. */
  "prompt-cache-model",
  /** A service tier (priority, flex, reserved) the model or the Region does not offer gets ValidationException; lenient: every tier is served, on the on-demand quota. */
  "service-tier",
  /** A cached prefix below the model's minimum is silently not cached; lenient: any length is cached. */
  "cache-minimum",
  /** Quotas reserve input + cache + maxTokens at the start and settle with output x burn-down; lenient: count input + output once, after the call. */
  "quota-reservation",
  /** Tokens counted with the model family's tokenizer; lenient: ceil(characters / 4). */
  "tokenizer",
] as const;

export type LenientRule = (typeof LENIENT_RULES)[number];

/** Rules left lenient when the `lenient` setting is not given: none, the emulator is as strict as Bedrock. */
export const DEFAULT_LENIENT: readonly LenientRule[] = [];
