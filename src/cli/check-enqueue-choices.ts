import type { Config } from "../core/config/config.ts";
import { InvalidRequestError, LabelqError } from "../core/errors/errors.ts";
import type { ModelCatalogue } from "../core/models/model-catalogue.ts";
import { offersTier, type ServiceTier } from "../core/models/service-tiers.ts";
import { PromptRegistry } from "../core/prompts/prompt-registry.ts";

/** What `enqueue` is asked to put in every request. */
export interface EnqueueChoices {
  taxonomy?: string;
  promptVersion?: string;
  model?: string;
  tier?: ServiceTier;
}

const SKIP_HINT = "(--no-check sends anyway, e.g. when the worker is configured differently from this shell)";

/**
 * Check the taxonomy, prompt version and model an enqueue names before anything is sent, so a
 * typo is one line here instead of a DLQ entry per batch: the model against the worker's catalogue and
 * this configuration's allow-list (LABELQ_DEFAULT_MODEL, LABELQ_ALLOWED_MODELS), the taxonomy and
 * version against the prompts directory (LABELQ_PROMPTS_DIR). Only what is named is checked: an
 * unnamed choice is the worker's to default.
 */
export async function checkEnqueueChoices(choices: EnqueueChoices, config: Pick<Config, "models" | "prompts">, catalogue: ModelCatalogue): Promise<void> {
  if (choices.model !== undefined) {
    if (!catalogue.find(choices.model)) {
      throw new InvalidRequestError(`--model "${choices.model}" is not a model labelq knows (known: ${catalogue.models.map((m) => m.alias).join(", ")})`);
    }
    const allowed = [config.models.default, ...config.models.allowed];
    if (!allowed.includes(choices.model)) {
      throw new InvalidRequestError(
        `--model "${choices.model}" is not allowed by this configuration (LABELQ_DEFAULT_MODEL, LABELQ_ALLOWED_MODELS: ${allowed.join(", ")}); a worker configured the same refuses it ${SKIP_HINT}`,
        [],
        "MODEL_NOT_ALLOWED",
      );
    }
  }
  if (choices.tier !== undefined) {
    const alias = choices.model ?? config.models.default;
    const model = catalogue.find(alias);
    if (model && !offersTier(model, choices.tier)) {
      throw new InvalidRequestError(`--tier ${choices.tier}: ${alias} does not offer it (it offers: ${model.serviceTiers.join(", ")}); a worker refuses such batches (TIER_NOT_OFFERED) ${SKIP_HINT}`, [], "TIER_NOT_OFFERED");
    }
  }
  if (choices.taxonomy !== undefined || choices.promptVersion !== undefined) {
    const taxonomy = choices.taxonomy ?? config.prompts.defaultTaxonomy;
    const version = choices.promptVersion ?? config.prompts.defaultVersion;
    try {
      await new PromptRegistry(config.prompts.dir).resolve(taxonomy, version);
    } catch (error) {
      if (error instanceof LabelqError) throw new InvalidRequestError(`${error.message} in ${config.prompts.dir} ${SKIP_HINT}`, [], error.code);
      throw error;
    }
  }
}
