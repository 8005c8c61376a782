import type { LabelRequest } from "../contracts/request.ts";
import type { LabelResult, ResultItem } from "../contracts/result.ts";
import { textErrorCodes } from "../contracts/text-checks.ts";
import { missingItem, resultMessage } from "./result-message.ts";
import { addUsage, noUsage } from "./usage.ts";

/** One labelBatch (or cascade) run that answered part of a batch, and how many texts it sent to a model. */
export interface PartRun {
  result: LabelResult;
  /** Texts whose tokens the run's usage holds: the divisor of per-text figures. */
  sent: number;
}

/** A labelBatch result as a run: its texts sent are the texts it labelled or failed on, less cache hits. */
export function runOf(result: LabelResult): PartRun {
  return { result, sent: result.items.filter((it) => !isTextError(it)).length - result.usage.cacheHits };
}

/** What the combined result says of the batch as a whole. */
export interface CombinedHeader {
  taxonomy: string;
  promptVersion: string;
  promptHash: string;
  model: string;
}

/**
 * One result message from runs that each answered part of a batch (prompt canaries, model
 * canaries, cascades): items in request order from the `answering` runs, usage summed over
 * `answering` and `extra` runs (shadows and second samples were sent too, so their texts count
 * in the per-text divisor). `tag` may annotate each answered item with its run.
 */
export function combineRuns(
  request: LabelRequest,
  receivedAt: Date,
  header: CombinedHeader,
  runs: { answering: readonly PartRun[]; extra?: readonly PartRun[] },
  completedAt: Date,
  tag: (item: ResultItem, run: LabelResult) => ResultItem = (item) => item,
): LabelResult {
  const answered = new Map(runs.answering.flatMap((r) => r.result.items.map((it): [string, ResultItem] => [it.id, tag(it, r.result)])));
  const all = [...runs.answering, ...(runs.extra ?? [])];
  const items = request.items.map((it) => answered.get(it.id) ?? missingItem(it.id));
  return resultMessage({
    request,
    ...header,
    items,
    usage: all.map((r) => r.result.usage).reduce(addUsage, noUsage()),
    // Texts answered wholly from the cache, as the batch returns them: a shadow's or a second sample's hits answer nothing.
    cacheHits: items.filter((it) => it.source === "cache").length,
    sentToModel: all.reduce((n, r) => n + r.sent, 0),
    receivedAt,
    completedAt,
  });
}

/** An item whose text was never sent to the model (empty, blank, too long). */
export function isTextError(item: ResultItem): boolean {
  return (textErrorCodes as readonly string[]).includes(item.error?.code ?? "");
}
