import type { Command } from "commander";
import fs from "node:fs";
import { createAwsClients } from "../adapters/aws-clients.ts";
import { requireQueue } from "../core/config/config.ts";
import { InvalidRequestError, QueueError } from "../core/errors/errors.ts";
import { collectResults, deadLetterLine, shortfall } from "../app/producer/collect-results.ts";
import { configFrom } from "./config-from-flags.ts";
import { integerArg, positiveNumberArg } from "./numeric-flags.ts";

/** Batch ids from `--ids <file>` (one per line, as `enqueue` prints them; `-` reads stdin) and `--batch-id` flags. */
function awaitedIds(idsFile: string | undefined, flags: readonly string[]): Set<string> | undefined {
  if (idsFile === undefined && flags.length === 0) return undefined;
  let fromFile: string[] = [];
  if (idsFile !== undefined) {
    let raw: string;
    try {
      raw = fs.readFileSync(idsFile === "-" ? 0 : idsFile, "utf8");
    } catch (error) {
      throw new InvalidRequestError(`--ids ${idsFile}: ${(error as { code?: string }).code === "ENOENT" ? "no such file" : (error as Error).message}`);
    }
    fromFile = raw.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  }
  const ids = new Set([...fromFile, ...flags]);
  if (ids.size === 0) throw new InvalidRequestError(`--ids ${idsFile}: no batch ids in it (expected one per line, as \`labelq enqueue\` prints them)`);
  return ids;
}

/** Add `labelq collect`: batch results from the results queue into JSONL. */
export function registerCollectCommand(program: Command): void {
  program
    .command("collect")
    .description(
      "Read batch results from the results queue into JSONL (stdout or --out); each message is deleted after it is written. With --ids or --batch-id, only those batches' results are taken (others stay on the queue) and the DLQ is watched for them; otherwise until --batches N results or the timeout.",
    )
    .option("--ids <file>", "wait for the batch ids in this file, one per line, as `labelq enqueue` prints them (- reads stdin)")
    .option("--batch-id <id>", "wait for this batch (repeatable)", (id: string, ids: string[]) => [...ids, id], [] as string[])
    .option("--batches <n>", "without ids: stop after this many batch results, whichever batches they are", integerArg(1, 100_000_000))
    .option("--timeout <seconds>", "stop after this long", positiveNumberArg("seconds"), 300)
    .option("--out <file>", "append results to this file instead of stdout")
    .option("--queue <url>", "results queue URL (LABELQ_RESULTS_QUEUE_URL)")
    .option("--dlq <url>", "DLQ URL watched for the awaited batches (LABELQ_DLQ_URL)")
    .action(async (o: { ids?: string; batchId: string[]; batches?: number; timeout: number; out?: string; queue?: string; dlq?: string }) => {
      const config = configFrom({ LABELQ_RESULTS_QUEUE_URL: o.queue, LABELQ_DLQ_URL: o.dlq });
      const batchIds = awaitedIds(o.ids, o.batchId);
      if (batchIds && o.batches !== undefined) {
        throw new InvalidRequestError("--batches counts results of any batch; with --ids or --batch-id collect waits for exactly those batches: give one or the other");
      }
      const queueUrl = requireQueue(config, "results");
      const clients = createAwsClients(config);
      const out = o.out ? fs.openSync(o.out, "a") : 1;
      try {
        const dlqUrl = batchIds ? config.queues.dlq : undefined;
        const outcome = await collectResults(clients.sqs, {
          queueUrl,
          batches: o.batches,
          batchIds,
          timeoutMs: o.timeout * 1000,
          onResult: (r) => {
            fs.writeSync(out, JSON.stringify(r) + "\n");
            if (o.out) fs.fsyncSync(out);
          },
          onInvalid: (_body, reason) => process.stderr.write(`skipped a message that is not a labelq result: ${reason.slice(0, 200)}\n`),
          dlq: dlqUrl ? { url: dlqUrl, onDeadLettered: (entry) => process.stderr.write(`${deadLetterLine(entry)}\n`) } : undefined,
        });
        const collected = outcome.collected.size;
        process.stderr.write(`collected ${collected} batch results${o.out ? ` into ${o.out}` : ""}\n`);
        if (batchIds) {
          const why = shortfall(outcome, batchIds.size, o.timeout, dlqUrl !== undefined);
          if (why) throw new QueueError(why);
        } else if (o.batches !== undefined && collected < o.batches) {
          throw new QueueError(`only ${collected} of the ${o.batches} batch results asked for arrived within ${o.timeout} s (the rest may still be in progress: run collect again, or raise --timeout; with --ids from \`labelq enqueue\`, collect also says which batches are in the DLQ)`);
        }
      } finally {
        if (o.out) fs.closeSync(out);
        clients.destroy();
      }
    });
}
