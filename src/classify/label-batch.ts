import type { LabelRequest } from "../contracts/request.ts";
import type { LabelResult } from "../contracts/result.ts";
import { InvalidRequestError } from "../errors/errors.ts";
import { findModel, type ModelSpec } from "../llm/model-registry.ts";
import { promptHash, type PromptRegistry } from "../prompts/prompt-registry.ts";
import { classifyItems, type ClassifyDeps } from "./classify-items.ts";

export interface LabelBatchSettings {
  defaultTaxonomy: string;
  defaultPromptVersion: string;
  defaultModel: string;
  /** Aliases a request may choose besides the default. */
  allowedModels: readonly string[];
  chunkSize: number;
  maxReaskRounds: number;
}

export interface LabelBatchDeps extends ClassifyDeps {
  prompts: PromptRegistry;
}

/** Resolve a request's model alias against the registry and the allow-list; unknown or not allowed is a bad request. */
export function resolveModel(alias: string, settings: LabelBatchSettings): ModelSpec {
  const allowed = alias === settings.defaultModel || settings.allowedModels.includes(alias);
  const model = findModel(alias);
  if (!allowed || !model) {
    const choices = [settings.defaultModel, ...settings.allowedModels].join(", ");
    throw new InvalidRequestError(`Model "${alias}" is not allowed here (allowed: ${choices})`, [], "MODEL_NOT_ALLOWED");
  }
  return model;
}

/** Label one validated batch request and build its result message. Knows nothing of queues. */
export async function labelBatch(
  request: LabelRequest,
  receivedAt: Date,
  settings: LabelBatchSettings,
  deps: LabelBatchDeps,
  signal?: AbortSignal,
): Promise<LabelResult> {
  const taxonomyName = request.taxonomy ?? settings.defaultTaxonomy;
  const modelAlias = request.model ?? settings.defaultModel;
  const model = resolveModel(modelAlias, settings);
  const prompt = await deps.prompts.resolve(taxonomyName, request.promptVersion ?? settings.defaultPromptVersion);
  const inference = {
    temperature: prompt.inference.temperature ?? model.inference.temperature,
    topP: prompt.inference.topP ?? model.inference.topP,
    maxTokens: model.maxOutputTokens,
  };

  const outcome = await classifyItems(
    { items: request.items, prompt, model, inference, chunkSize: settings.chunkSize, maxReaskRounds: settings.maxReaskRounds },
    deps,
    signal,
  );
  // The model refused every text (no model access, input too long...): a batch-level failure
  // for the DLQ, replayable once the cause is fixed, rather than a result of errors.
  if (outcome.rejection && outcome.items.every((it) => it.error?.code === "MODEL_REJECTED_REQUEST")) throw outcome.rejection;
  const failed = outcome.items.filter((it) => it.error !== null).length;
  const completedAt = new Date();
  return {
    schemaVersion: 1,
    batchId: request.batchId,
    status: failed === 0 ? "completed" : failed === outcome.items.length ? "failed" : "partial",
    taxonomy: taxonomyName,
    promptVersion: prompt.version,
    promptHash: promptHash(prompt, model.modelId, inference),
    model: modelAlias,
    items: outcome.items,
    usage: { ...outcome.usage, costUsd: round6(outcome.usage.costUsd), cacheHits: 0 },
    timing: {
      receivedAt: receivedAt.toISOString(),
      completedAt: completedAt.toISOString(),
      durationMs: completedAt.getTime() - receivedAt.getTime(),
    },
    attributes: request.attributes ?? {},
  };
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
