import { readAnswer } from "../../core/classify/call-model.ts";
import { sliceBySizes } from "../../core/classify/classify-items.ts";
import type { ItemProblem } from "../../core/classify/sort-answer.ts";
import { sortAnswer } from "../../core/classify/sort-answer.ts";
import type { RequestItem } from "../../core/contracts/request.ts";
import type { ResultItem } from "../../core/contracts/result.ts";
import type { ModelSpec } from "../../core/models/model-registry.ts";
import type { ResolvedPrompt } from "../../core/prompts/prompt-registry.ts";
import { batchCostUsd } from "./batch-cost.ts";
import { recordKeyOf } from "./plan-records.ts";
import type { RecordOutcome } from "./read-output.ts";

/** One batch's texts after its job: labelled, or not (to be re-asked live), and what its records cost. */
export interface BatchOutput {
  /** Texts whose labels validate, in request order. */
  labelled: ResultItem[];
  /** Texts without valid labels: invalid, missing from the answer, or their record failed or is absent. */
  unlabelled: ItemProblem[];
  records: { answered: number; failed: number; missing: number };
  usage: { inputTokens: number; outputTokens: number; costUsd: number };
}

/**
 * Sort a batch's records from a job's output: each answered record is read (readAnswer) and
 * sorted per text (sortAnswer) exactly like a live answer; a failed or absent record leaves
 * its texts unlabelled. Pure. Tokens are costed at the model's batch prices. `outputs` is keyed by
 * record key (recordKeyOf), as readJobOutput gives it.
 */
export function sortBatchOutput(
  batchId: string,
  items: readonly RequestItem[],
  chunkSizes: readonly number[],
  outputs: ReadonlyMap<string, RecordOutcome>,
  prompt: ResolvedPrompt,
  model: ModelSpec,
): BatchOutput {
  const out: BatchOutput = { labelled: [], unlabelled: [], records: { answered: 0, failed: 0, missing: 0 }, usage: { inputTokens: 0, outputTokens: 0, costUsd: 0 } };
  for (const [chunk, part] of sliceBySizes(items, chunkSizes).entries()) {
    const outcome = outputs.get(recordKeyOf(batchId, part[0]?.id ?? "", chunk));
    if (!outcome || outcome.kind === "error") {
      const message = outcome ? outcome.message : "the job's output has no line for this record";
      out.records[outcome ? "failed" : "missing"] += 1;
      for (const it of part) out.unlabelled.push({ id: it.id, code: "MISSING_FROM_OUTPUT", message });
      continue;
    }
    out.records.answered += 1;
    const { usage } = outcome.response;
    out.usage.inputTokens += usage.inputTokens;
    out.usage.outputTokens += usage.outputTokens;
    out.usage.costUsd += batchCostUsd(model, usage.inputTokens, usage.outputTokens);
    const sorted = sortAnswer(part, readAnswer(outcome.response, prompt, model), prompt.codec, model.modelId);
    out.labelled.push(...sorted.labelled);
    out.unlabelled.push(...sorted.invalid, ...sorted.missing);
  }
  const order = new Map(items.map((it, k) => [it.id, k]));
  out.labelled.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
  return out;
}
