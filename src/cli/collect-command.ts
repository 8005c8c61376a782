import type { Command } from "commander";
import fs from "node:fs";
import { createAwsClients } from "../aws-clients.ts";
import { requireQueue } from "../config/config.ts";
import { QueueError } from "../errors/errors.ts";
import { collectResults } from "../producer/collect-results.ts";
import { configFrom } from "./config-from-flags.ts";
import { integerArg, positiveNumberArg } from "./numeric-flags.ts";

/** Add `labelq collect`: batch results from the results queue into JSONL. */
export function registerCollectCommand(program: Command): void {
  program
    .command("collect")
    .description("Read batch results from the results queue into JSONL (stdout or --out) until N batches or a timeout; each message is deleted after it is written.")
    .option("--batches <n>", "stop after this many batch results", integerArg(1, 100_000_000))
    .option("--timeout <seconds>", "stop after this long", positiveNumberArg("seconds"), 300)
    .option("--out <file>", "append results to this file instead of stdout")
    .option("--queue <url>", "results queue URL (LABELQ_RESULTS_QUEUE_URL)")
    .action(async (o: { batches?: number; timeout: number; out?: string; queue?: string }) => {
      const config = configFrom({ LABELQ_RESULTS_QUEUE_URL: o.queue });
      const clients = createAwsClients(config);
      const out = o.out ? fs.openSync(o.out, "a") : 1;
      try {
        const seen = await collectResults(clients.sqs, {
          queueUrl: requireQueue(config, "results"),
          batches: o.batches,
          timeoutMs: o.timeout * 1000,
          onResult: (r) => {
            fs.writeSync(out, JSON.stringify(r) + "\n");
            if (o.out) fs.fsyncSync(out);
          },
          onInvalid: (_body, reason) => process.stderr.write(`skipped a message that is not a labelq result: ${reason.slice(0, 200)}\n`),
        });
        process.stderr.write(`collected ${seen.size} batch results${o.out ? ` into ${o.out}` : ""}\n`);
        if (o.batches !== undefined && seen.size < o.batches) {
          throw new QueueError(`only ${seen.size} of the ${o.batches} batch results asked for arrived within ${o.timeout} s (the rest may still be in progress: run collect again, or raise --timeout)`);
        }
      } finally {
        if (o.out) fs.closeSync(out);
        clients.destroy();
      }
    });
}
