import { lookUpModel, type BedrockModel } from "../bedrock-models.ts";

/**
 * What a custom model answers by: its base model's rules (output cap, sampling, tool choice,
 * prompt caching, tokenizer), looked up in the emulator's model table by the base id without its
 * context suffix ("amazon.nova-micro-v1:0:128k" -> "amazon.nova-micro-v1:0"). The small Llama
 * students (3.1 8B, 3.2 1B / 3B) are not in that table (they are no labelq teacher): their rules
 * are Llama 3.1's as the table has them for the larger Llama 3.x models (2,048 output tokens on
 * Converse, tools without a forced call, no prompt caching, 128K context), sources in
 * docs/bedrock-fidelity.md ("Custom model deployments and Provisioned Throughput", D9).
 *
 * A custom model is served by its deployment or Provisioned Throughput, never by an inference
 * profile: the base model's `onDemand` flag does not apply, and none of the base model's batch or
 * service-tier offers carry over.
 */

const LLAMA_SMALL: Omit<BedrockModel, "name" | "baseId"> = {
  onDemand: true,
  profiles: [],
  contextTokens: 128_000,
  maxOutputTokens: 2048,
  sampling: "any",
  toolChoices: ["auto"],
  promptCacheMinTokens: undefined,
  outputBurndown: 1,
  tokenizer: "llama3",
  sources: ["docs: model-parameters-meta (max_gen_len at most 2048)", "docs: API_runtime_ToolChoice (tool: Claude 3 and Nova only)"],
};

const SMALL_LLAMAS: ReadonlyMap<string, string> = new Map([
  ["meta.llama3-1-8b-instruct-v1:0", "Llama 3.1 8B Instruct"],
  ["meta.llama3-2-1b-instruct-v1:0", "Llama 3.2 1B Instruct"],
  ["meta.llama3-2-3b-instruct-v1:0", "Llama 3.2 3B Instruct"],
]);

/** A base model identifier without a context-length suffix or a foundation-model ARN prefix. */
export function bareBaseId(identifier: string): string {
  const marker = ":foundation-model/";
  const id = identifier.includes(marker) ? identifier.slice(identifier.indexOf(marker) + marker.length) : identifier;
  const parts = id.split(":");
  return parts.length > 2 ? parts.slice(0, 2).join(":") : id;
}

/** Whether a base model is an Amazon Nova text model (the ones a custom model deployment serves on demand). */
export function isNovaBase(identifier: string): boolean {
  return /^amazon\.nova-(micro|lite|pro)-v1:0$/.test(bareBaseId(identifier));
}

/** The rules a custom model made from this base model answers by, or undefined when the emulator has none for it. */
export function customModelRules(baseModelIdentifier: string): BedrockModel | undefined {
  const id = bareBaseId(baseModelIdentifier);
  const small = SMALL_LLAMAS.get(id);
  if (small !== undefined) return { ...LLAMA_SMALL, name: `custom ${small}`, baseId: id };
  const found = lookUpModel(id);
  if (found === undefined) return undefined;
  const { batch: _batch, serviceTiers: _tiers, tierRegions: _regions, ...rules } = found.model;
  return { ...rules, name: `custom ${found.model.name}`, onDemand: true, profiles: [] };
}
