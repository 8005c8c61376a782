import { resolveModel } from "../../core/classify/label-batch.ts";
import { DEFAULT_REQUEST_LIMITS, type RequestItem } from "../../core/contracts/request.ts";
import { screenItems } from "../../core/contracts/text-checks.ts";
import type { ModelSpec } from "../../core/models/model-registry.ts";
import { resolveInference } from "../../core/models/sampling.ts";
import type { InferenceParams, ResolvedPrompt } from "../../core/prompts/prompt-registry.ts";
import type { BulkContext } from "./bulk-context.ts";
import type { IntakeRecord } from "../../core/bulk/bulk-store.ts";

/** What a bulk batch is labelled with: taxonomy, prompt (as resolved when its records were built), model, sampling. */
export interface ResolvedBatch {
  taxonomy: string;
  prompt: ResolvedPrompt;
  model: ModelSpec;
  inference: InferenceParams;
  /** Longest text sent to the model; longer, empty or blank texts get an item error instead (screenItems). */
  maxTextChars: number;
}

/**
 * Resolve a bulk batch the way labelBatch resolves a live one. Once its records are built the
 * prompt version is the one recorded then (intake.promptVersion), so that an alias moved while
 * the job ran does not change how its output is read.
 */
export async function resolveBatch(ctx: Pick<BulkContext, "prompts" | "settings">, intake: IntakeRecord): Promise<ResolvedBatch> {
  const { request } = intake;
  const taxonomy = request.taxonomy ?? ctx.settings.defaultTaxonomy;
  const prompt = await ctx.prompts.resolve(taxonomy, intake.promptVersion ?? request.promptVersion ?? ctx.settings.defaultPromptVersion);
  const model = resolveModel(intake.model, ctx.settings);
  const maxTextChars = ctx.settings.maxTextChars ?? DEFAULT_REQUEST_LIMITS.maxTextChars;
  return { taxonomy, prompt, model, inference: resolveInference(prompt, model, request.inference), maxTextChars };
}

/**
 * The texts of a bulk batch that go into its records: those the live path would send too. The
 * others (empty, blank, too long) get their item error in the result (bulkResult); records are
 * cut, written and read over these texts only, so every step must take them from here.
 */
export function recordItems(items: readonly RequestItem[], batch: Pick<ResolvedBatch, "maxTextChars">): RequestItem[] {
  return screenItems(items, batch.maxTextChars).usable;
}
