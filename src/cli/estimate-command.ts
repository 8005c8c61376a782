import type { Command } from "commander";
import { formatLiveVsBulk, liveVsBulk } from "../app/ops/bulk-estimate.ts";
import { estimateRun, formatEstimate } from "../app/ops/estimate.ts";
import { fleetForEstimate, formatFleetPlan } from "../app/ops/fleet-size.ts";
import { readTexts } from "../app/producer/read-texts.ts";
import { screenTexts, skippedLines } from "../app/producer/screen-texts.ts";
import { PromptRegistry } from "../core/prompts/prompt-registry.ts";
import { configFrom } from "./config-from-flags.ts";
import { InvalidRequestError } from "../core/errors/errors.ts";
import { integerArg, positiveNumberArg, shareArg } from "./numeric-flags.ts";
import { modelCatalogueFor } from "../app/worker/worker.ts";
import { drainQuota } from "../core/quota/pool-quota.ts";

/** A commander parser for --quota-share: a share above 0 and at most 1, refused while the flags are parsed. */
export const quotaShareArg = shareArg("(0, 1]", "the share of the Bedrock quota labelq may use, e.g. 0.5");

/** Add `labelq estimate <file>`: texts, batches, tokens and cost before enqueueing. */
export function registerEstimateCommand(program: Command): void {
  program
    .command("estimate <file>")
    .description("Before enqueueing: count the texts and batches of a .jsonl or .csv file and estimate tokens and cost per model at list prices, live and bulk (batch inference).")
    .option("--batch-size <n>", "texts per batch", integerArg(1, 1_000), 50)
    .option("--taxonomy <name>", "taxonomy (default LABELQ_DEFAULT_TAXONOMY)")
    .option("--prompt-version <v>", "version or alias (default LABELQ_DEFAULT_PROMPT_VERSION)")
    .option("--deadline <minutes>", "also print the workers needed to label the file within this time, within the Bedrock quota (LABELQ_QUOTA_*)", positiveNumberArg("minutes"))
    .option("--seconds-per-batch <s>", "measured wall time of one batch on an unthrottled worker (needed with --deadline)", positiveNumberArg("seconds"))
    .option("--quota-share <x>", "the share of the Bedrock quota (LABELQ_QUOTA_*) labelq may use when other workloads call the same models: above 0, at most 1", quotaShareArg, 1)
    .action(async (file: string, o: { batchSize: number; taxonomy?: string; promptVersion?: string; deadline?: number; secondsPerBatch?: number; quotaShare: number }) => {
      const config = configFrom({});
      const taxonomy = o.taxonomy ?? config.prompts.defaultTaxonomy;
      const prompt = await new PromptRegistry(config.prompts.dir).resolve(taxonomy, o.promptVersion ?? config.prompts.defaultVersion);
      const screened = screenTexts(await readTexts(file), config.limits.maxTextChars, file);
      for (const line of skippedLines(screened, "estimating")) process.stderr.write(`${line}\n`);
      const estimate = estimateRun(screened.send, prompt, { batchSize: o.batchSize, chunkSize: config.classify.chunkSize, models: modelCatalogueFor(config).models });
      process.stdout.write(formatEstimate(estimate, taxonomy, prompt.version) + "\n");
      const quotaShare = o.quotaShare;
      // The quota the bulk router drains a backlog with: LABELQ_QUOTA_* / LABELQ_QUOTAS, or the sum over LABELQ_POOLS.
      const catalogue = modelCatalogueFor(config);
      const quotaFor = (alias: string) => drainQuota(config, catalogue, alias);
      const compared = liveVsBulk(estimate, {
        // Live time at the share of the quota labelq may use.
        quotaFor: (alias) => {
          const q = quotaFor(alias);
          return { rpm: q.rpm * quotaShare, tpm: q.tpm * quotaShare };
        },
        gatherS: config.bulk.gatherS,
        turnaroundS: config.bulk.policy.turnaroundS,
        maxRecordsPerJob: config.bulk.limits.maxRecordsPerJob,
        minRecords: config.bulk.limits.minRecords,
      });
      const sharePct = `${+(quotaShare * 100).toFixed(1)}%`;
      process.stdout.write(`\nLive against bulk (Bedrock batch inference, docs/bulk.md), live at ${sharePct} of each model's quota (--quota-share):\n${formatLiveVsBulk(compared, estimate.texts)}\n`);
      if (o.deadline === undefined) return;
      if (o.secondsPerBatch === undefined) throw new InvalidRequestError("--deadline needs --seconds-per-batch: measure one batch (labelq_batch_duration_seconds) on an unthrottled worker");
      const model = config.models.default;
      const plan = fleetForEstimate(estimate, { model, quota: quotaFor(model), quotaShare, concurrency: config.worker.concurrency, secondsPerBatch: o.secondsPerBatch, deadlineS: o.deadline * 60 });
      process.stdout.write(`\n${model}: ${formatFleetPlan(plan, estimate.batches, o.deadline * 60, config.worker.concurrency)}\n`);
    });
}
