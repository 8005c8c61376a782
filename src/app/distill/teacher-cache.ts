import { batchKeys } from "../../core/classify/cache-entries.ts";
import { planBatch } from "../../core/classify/label-batch.ts";
import type { LabelCache } from "../../core/cache/label-cache.ts";
import type { LabelRequest } from "../../core/contracts/request.ts";
import type { ModelCatalogue } from "../../core/models/model-catalogue.ts";
import type { ModelSpec } from "../../core/models/model-registry.ts";
import type { PromptRegistry, ResolvedPrompt } from "../../core/prompts/prompt-registry.ts";

/** The label cache as the teacher's labels are read from it: the worker's keys for one teacher, taxonomy and prompt. */
export interface TeacherCache {
  cache: LabelCache;
  /** The key the worker caches a text under when the teacher labels it with this taxonomy and prompt. */
  keyOf: (text: string) => string;
  /** The prompt as the worker resolves it: a cached label answers it only under its dimension hashes. */
  prompt: ResolvedPrompt;
  teacher: ModelSpec;
}

/** What the teacher's cache keys are computed from. */
export interface TeacherCacheScope {
  cache: LabelCache;
  catalogue: ModelCatalogue;
  prompts: PromptRegistry;
  /** The teacher's catalogue alias. */
  teacher: string;
  taxonomy: string;
  /** A prompt version or alias, as a request names it. */
  promptVersion: string;
  now?: () => number;
}

/**
 * The teacher's view of the label cache. The keys come from the worker's own planning
 * (planBatch: model from the catalogue, prompt from the registry, sampling as a request without
 * overrides gets it) and its key function (batchKeys), so they match what the worker wrote for a
 * request naming this teacher, taxonomy and prompt version; nothing here re-derives a key.
 */
export async function teacherCache(scope: TeacherCacheScope): Promise<TeacherCache> {
  // A request as a producer sends it for these texts: no sampling overrides, no tier.
  const request: LabelRequest = { schemaVersion: 1, batchId: "distill-export", items: [{ id: "t", text: "" }], taxonomy: scope.taxonomy, promptVersion: scope.promptVersion, model: scope.teacher };
  const settings = {
    defaultTaxonomy: scope.taxonomy,
    defaultPromptVersion: scope.promptVersion,
    defaultModel: scope.teacher,
    allowedModels: [],
    catalogue: scope.catalogue,
    chunkSize: 1,
    maxReaskRounds: 0,
  };
  const plan = await planBatch(request, settings, scope.prompts, (scope.now ?? Date.now)());
  const keys = batchKeys({ items: [] }, { ...plan, taxonomy: plan.taxonomyName });
  return { cache: scope.cache, keyOf: keys.ofText, prompt: plan.prompt, teacher: plan.model };
}
