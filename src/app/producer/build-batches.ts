import type { LabelRequest } from "../../core/contracts/request.ts";
import type { ServiceTier } from "../../core/models/service-tiers.ts";
import type { InputText } from "./read-texts.ts";

export interface BatchOptions {
  batchSize: number;
  /** batchIds are `<prefix>-<000001>`: stable for the same input, so re-sending is idempotent. */
  prefix: string;
  taxonomy?: string;
  promptVersion?: string;
  model?: string;
  /** Bedrock service tier for every batch (the request's `tier`). */
  tier?: ServiceTier;
  replyTo?: string;
  attributes?: Record<string, string>;
}

/** Split texts into request messages of at most batchSize items each. */
export function buildBatches(texts: readonly InputText[], options: BatchOptions): LabelRequest[] {
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
  const batches: LabelRequest[] = [];
  for (let start = 0, n = 1; start < texts.length; start += options.batchSize, n++) {
    batches.push({
      schemaVersion: 1,
      batchId: `${options.prefix}-${String(n).padStart(6, "0")}`,
      ...(options.taxonomy ? { taxonomy: options.taxonomy } : {}),
      ...(options.promptVersion ? { promptVersion: options.promptVersion } : {}),
      ...(options.model ? { model: options.model } : {}),
      ...(options.tier ? { tier: options.tier } : {}),
      items: texts.slice(start, start + options.batchSize),
      ...(options.replyTo ? { replyTo: options.replyTo } : {}),
      ...(options.attributes ? { attributes: options.attributes } : {}),
    });
  }
  return batches;
}
