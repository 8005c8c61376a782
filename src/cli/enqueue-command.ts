import cliProgress from "cli-progress";
import { type Command, Option } from "commander";
import { SERVICE_TIERS, type ServiceTier } from "../core/models/service-tiers.ts";
import path from "node:path";
import { createAwsClients } from "../adapters/aws-clients.ts";
import { requireQueue } from "../core/config/config.ts";
import { buildBatches } from "../app/producer/build-batches.ts";
import { readTexts } from "../app/producer/read-texts.ts";
import { screenTexts, skippedLines } from "../app/producer/screen-texts.ts";
import { sendRequests } from "../app/producer/send-requests.ts";
import { modelCatalogueFor } from "../app/worker/worker.ts";
import { checkEnqueueChoices } from "./check-enqueue-choices.ts";
import { configFrom } from "./config-from-flags.ts";
import { checkIntegerFlag, integerArg } from "./numeric-flags.ts";

/** Add `labelq enqueue <file>`: texts of a file, in batches, to the requests queue. */
export function registerEnqueueCommand(program: Command): void {
  program
    .command("enqueue <file>")
    .description("Split the texts of a .jsonl or .csv file into batches and send them to the requests queue; prints the batch ids.")
    .option("--batch-size <n>", "texts per batch", integerArg(1, 1_000_000), 50)
    .option("--prefix <prefix>", "batchId prefix (batchIds are <prefix>-000001, ...); default: file name + time")
    .option("--taxonomy <name>", "taxonomy for every batch (default: the worker's)")
    .option("--prompt-version <v>", "prompt version or alias (default: the worker's)")
    .option("--model <alias>", "model alias (default: the worker's)")
    .addOption(new Option("--tier <tier>", "Bedrock service tier for every batch, where the model offers it (default: the worker's tier policy)").choices([...SERVICE_TIERS]))
    .option("--reply-to <url>", "results queue for these batches (must be allow-listed by the worker)")
    .option("--queue <url>", "requests queue URL (LABELQ_REQUESTS_QUEUE_URL)")
    .option("--no-check", "send without checking --model against the registry and allow-list, and --taxonomy/--prompt-version against LABELQ_PROMPTS_DIR")
    .action(async (file: string, o: { batchSize: number; prefix?: string; taxonomy?: string; promptVersion?: string; model?: string; tier?: ServiceTier; replyTo?: string; queue?: string; check: boolean }) => {
      const config = configFrom({ LABELQ_REQUESTS_QUEUE_URL: o.queue });
      // The upper bound is the worker's request limit, known only once config is read.
      const batchSize = checkIntegerFlag("--batch-size", o.batchSize, 1, config.limits.maxItems, " (LABELQ_MAX_ITEMS)");
      const queueUrl = requireQueue(config, "requests");
      if (o.check) await checkEnqueueChoices(o, config, modelCatalogueFor(config));
      const screened = screenTexts(await readTexts(file), config.limits.maxTextChars, file);
      for (const line of skippedLines(screened, "sending")) process.stderr.write(`${line}\n`);
      const texts = screened.send;
      const prefix = o.prefix ?? `${path.basename(file).replace(/\.[^.]+$/, "")}-${new Date().toISOString().replace(/[:.]/g, "-")}`;
      const requests = buildBatches(texts, { batchSize, prefix, taxonomy: o.taxonomy, promptVersion: o.promptVersion, model: o.model, tier: o.tier, replyTo: o.replyTo });
      const clients = createAwsClients(config);
      const bar = process.stderr.isTTY
        ? new cliProgress.SingleBar({ format: "enqueue [{bar}] {value}/{total} batches", stream: process.stderr }, cliProgress.Presets.shades_classic)
        : undefined;
      bar?.start(requests.length, 0);
      try {
        await sendRequests(clients.sqs, queueUrl, requests, (n) => bar?.increment(n));
      } finally {
        bar?.stop();
        clients.destroy();
      }
      for (const r of requests) process.stdout.write(`${r.batchId}\n`);
      const left = screened.skipped.length > 0 ? ` (${screened.skipped.length} left out, listed above)` : "";
      process.stderr.write(`enqueued ${texts.length} texts in ${requests.length} batches to ${queueUrl}${left}\n`);
    });
}
