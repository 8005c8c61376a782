import { labelRoutedBatch } from "../../core/classify/label-routed-batch.ts";
import type { LabelResult, LabelValue } from "../../core/contracts/result.ts";
import { errorCode } from "../../core/errors/errors.ts";
import type { EvalCore } from "./eval-core.ts";
import type { GoldItem } from "./gold-set.ts";
import type { RunLabels } from "./score-run.ts";

/** What one run is: a taxonomy, a prompt version or alias, a model alias. */
export interface RunSpec {
  taxonomy: string;
  promptVersion: string;
  model: string;
}

export interface LabelRunOptions extends RunSpec {
  /** Texts per labelBatch call (one request message's worth). */
  batchSize: number;
  /** Use the label cache (when the core has one); off by default so every text is labelled anew. */
  cache: boolean;
  /** Batch id prefix, unique per run so an idempotency or cache record never links two runs. */
  runId: string;
  /** Called with each result as it completes (e.g. to write results JSONL). */
  onResult?: (result: LabelResult) => void;
}

/** A run's labels with what it cost and how it went. */
export interface LabelRun {
  spec: RunSpec & { resolvedVersion: string; promptHash: string };
  labels: RunLabels;
  /** Per-item errors, and whole batches that failed (every text in them counts). */
  errors: { id: string; code: string; message: string }[];
  texts: number;
  usage: { modelCalls: number; inputTokens: number; outputTokens: number; costUsd: number };
  /** Model calls the first round needs: one per chunk of each batch. */
  chunks: number;
  /** Every model call attempt, failed batches' included (usage only covers batches that returned a result). */
  attempts: number;
  /** Wall time of each batch, in ms. */
  batchMs: number[];
  retries: number;
  fallbacks: number;
}

/**
 * Label gold texts through labelRoutedBatch, the function the worker runs for every request
 * message (an alias with a canary share sends those texts to the canary version), in batches of `batchSize` sent concurrently (the limiter paces the model calls). A
 * batch that fails as a whole (the model stayed unavailable, the request was rejected) is
 * recorded as an error for each of its texts rather than ending the run.
 */
export async function labelGoldTexts(gold: readonly GoldItem[], options: LabelRunOptions, core: EvalCore): Promise<LabelRun> {
  const retriesBefore = await counterTotal(core.metrics.retries);
  const attemptsBefore = await counterTotal(core.metrics.modelCalls);
  const fallbacksBefore = await counterTotal(core.metrics.fallbacks);
  const batches: GoldItem[][] = [];
  for (let k = 0; k < gold.length; k += options.batchSize) batches.push(gold.slice(k, k + options.batchSize));
  const labels = new Map<string, Record<string, LabelValue> | null>();
  const errors: LabelRun["errors"] = [];
  const usage = { modelCalls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
  const batchMs: number[] = [];
  let resolved: { version: string; hash: string } | undefined;
  let firstFailure: unknown;

  await Promise.all(
    batches.map(async (items, n) => {
      const started = performance.now();
      try {
        const result = await labelRoutedBatch(
          {
            schemaVersion: 1,
            batchId: `${options.runId}-${String(n + 1).padStart(4, "0")}`,
            taxonomy: options.taxonomy,
            promptVersion: options.promptVersion,
            model: options.model,
            items: items.map((g) => ({ id: g.id, text: g.text })),
            cache: options.cache ? "use" : "bypass",
          },
          new Date(),
          core.settings,
          core.deps,
        );
        batchMs.push(performance.now() - started);
        resolved ??= { version: result.promptVersion, hash: result.promptHash };
        usage.modelCalls += result.usage.modelCalls;
        usage.inputTokens += result.usage.inputTokens + result.usage.cacheReadInputTokens + result.usage.cacheWriteInputTokens;
        usage.outputTokens += result.usage.outputTokens;
        usage.costUsd += result.usage.costUsd;
        for (const item of result.items) {
          labels.set(item.id, item.labels);
          if (item.error) errors.push({ id: item.id, code: item.error.code, message: item.error.message });
        }
        options.onResult?.(result);
      } catch (error) {
        firstFailure ??= error;
        batchMs.push(performance.now() - started);
        for (const g of items) {
          labels.set(g.id, null);
          errors.push({ id: g.id, code: errorCode(error), message: error instanceof Error ? error.message : String(error) });
        }
      }
    }),
  );
  // A run where nothing at all could be labelled says nothing about labels: stop with the cause
  // (a bad model alias, an unknown prompt version) instead of printing zeros.
  if (!resolved) throw firstFailure;
  const chunkSize = core.settings.chunkSize;
  return {
    spec: { taxonomy: options.taxonomy, promptVersion: options.promptVersion, model: options.model, resolvedVersion: resolved.version, promptHash: resolved.hash },
    labels,
    errors: errors.sort((a, b) => a.id.localeCompare(b.id)),
    texts: gold.length,
    usage,
    chunks: batches.reduce((s, b) => s + Math.ceil(b.length / chunkSize), 0),
    batchMs,
    attempts: (await counterTotal(core.metrics.modelCalls)) - attemptsBefore,
    retries: (await counterTotal(core.metrics.retries)) - retriesBefore,
    fallbacks: (await counterTotal(core.metrics.fallbacks)) - fallbacksBefore,
  };
}

/** Sum of a prom-client counter over all its label values. */
async function counterTotal(counter: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await counter.get()).values.reduce((s, v) => s + v.value, 0);
}
