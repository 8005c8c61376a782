import type { Command } from "commander";
import { estimateRun, formatEstimate } from "../ops/estimate.ts";
import { readTexts } from "../producer/read-texts.ts";
import { PromptRegistry } from "../prompts/prompt-registry.ts";
import { configFrom } from "./config-from-flags.ts";
import { integerArg } from "./numeric-flags.ts";

/** Add `labelq estimate <file>`: texts, batches, tokens and cost before enqueueing. */
export function registerEstimateCommand(program: Command): void {
  program
    .command("estimate <file>")
    .description("Before enqueueing: count the texts and batches of a .jsonl or .csv file and estimate tokens and cost per model at list prices.")
    .option("--batch-size <n>", "texts per batch", integerArg(1, 1_000), 50)
    .option("--taxonomy <name>", "taxonomy (default LABELQ_DEFAULT_TAXONOMY)")
    .option("--prompt-version <v>", "version or alias (default LABELQ_DEFAULT_PROMPT_VERSION)")
    .action(async (file: string, o: { batchSize: number; taxonomy?: string; promptVersion?: string }) => {
      const config = configFrom({});
      const taxonomy = o.taxonomy ?? config.prompts.defaultTaxonomy;
      const prompt = await new PromptRegistry(config.prompts.dir).resolve(taxonomy, o.promptVersion ?? config.prompts.defaultVersion);
      const estimate = estimateRun(await readTexts(file), prompt, { batchSize: o.batchSize, chunkSize: config.classify.chunkSize, models: config.models.catalogue.models });
      process.stdout.write(formatEstimate(estimate, taxonomy, prompt.version) + "\n");
    });
}
