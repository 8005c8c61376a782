import { awsError, type AwsError } from "./aws-errors.ts";
import type { ConverseInput, ToolChoiceKind } from "./converse-request.ts";

/**
 * What a model family accepts on Bedrock, where labelq's code depends on it. One table, so a
 * new model family is one row. The first row whose pattern matches the model id (or inference
 * profile id) wins; an id no row matches gets OTHER_MODELS.
 */
export interface ModelBehaviour {
  family: string;
  pattern: RegExp;
  /** toolChoice members the model accepts; "none" when any toolConfig is refused. */
  toolChoices: readonly ToolChoiceKind[] | "none";
  /** Bedrock prompt caching: cachePoint blocks are accepted and reported in usage. */
  promptCache: boolean;
}

export const MODEL_BEHAVIOURS: readonly ModelBehaviour[] = [
  // Llama 3 (8B, 70B) has no tool use on Bedrock at all.
  { family: "Llama 3", pattern: /meta\.llama3-(?:8|70)b-/, toolChoices: "none", promptCache: false },
  // Llama 3.1 / 3.2 / 3.3 accept tools but only let the model choose: no forced call.
  { family: "Llama 3.x", pattern: /llama3-/, toolChoices: ["auto"], promptCache: false },
  { family: "Claude", pattern: /anthropic\./, toolChoices: ["auto", "any", "tool"], promptCache: true },
  // Nova forces a named tool but does not take "any".
  { family: "Nova", pattern: /amazon\.nova/, toolChoices: ["auto", "tool"], promptCache: true },
];

/** Ids no row matches keep the emulator's permissive tool handling; prompt caching is for Claude and Nova only. */
export const OTHER_MODELS: ModelBehaviour = {
  family: "other",
  pattern: /(?:)/,
  toolChoices: ["auto", "any", "tool"],
  promptCache: false,
};

/** The behaviour row of a model id. */
export function behaviourOf(modelId: string): ModelBehaviour {
  return MODEL_BEHAVIOURS.find((b) => b.pattern.test(modelId)) ?? OTHER_MODELS;
}

/** The ValidationException Bedrock answers when the model cannot take this request, or undefined. */
export function refuseForModel(behaviour: ModelBehaviour, input: ConverseInput): AwsError | undefined {
  if (input.tools !== undefined) {
    if (behaviour.toolChoices === "none") return awsError("ValidationException", "This model doesn't support tool use.");
    const choice = input.tools.choice;
    if (choice !== undefined && !behaviour.toolChoices.includes(choice)) {
      return awsError("ValidationException", `This model doesn't support the toolConfig.toolChoice.${choice} field. Remove toolConfig.toolChoice.${choice} and try again.`);
    }
  }
  if (input.cachePoints > 0 && !behaviour.promptCache) {
    return awsError("ValidationException", "You invoked an unsupported model or your request did not allow prompt caching. See the documentation for more information.");
  }
  return undefined;
}
