import type { Command } from "commander";
import { type AwsClients, createAwsClients } from "../adapters/aws-clients.ts";
import type { IntakeRecord, JobRecord } from "../core/bulk/bulk-store.ts";
import { cancelJob } from "../app/bulk/cancel-job.ts";
import { DynamoBulkStore } from "../adapters/dynamodb/dynamo-bulk-store.ts";
import { BedrockJobControl } from "../adapters/bedrock/job-control.ts";
import type { Config } from "../core/config/config.ts";
import { ConfigError } from "../core/errors/errors.ts";
import { bulkBacklog, bulkModelAliases, type Gathering } from "../app/ops/status.ts";
import { configFrom } from "./config-from-flags.ts";

/** Add `labelq jobs list|show|cancel`: the bulk path's batch inference jobs, for operators. No texts are printed. */
export function registerJobsCommand(program: Command): void {
  const jobs = program.command("jobs").description("Bulk (Bedrock batch inference) jobs on record: list them, show one with its batches, cancel one.");
  jobs
    .command("list")
    .description("batches waiting to be gathered into a job (per model), then every job on record, newest first: state, Bedrock status, batches, records, cost")
    .option("--open", "only jobs not done")
    .action(async (o: { open?: boolean }) => {
      await withStore(async (store, _clients, config) => {
        const [all, backlog] = await Promise.all([store.jobs(), bulkBacklog(store, bulkModelAliases(config))]);
        const jobs = o.open ? all.filter((j) => j.state !== "done") : all;
        process.stdout.write(`${formatJobList(jobs, backlog.gathering, { gatherS: config.bulk.gatherS, now: Date.now() })}\n`);
      });
    });
  jobs
    .command("show <jobKey>")
    .description("one job: its record, Bedrock's status and message, and where each of its batches went")
    .action(async (jobKey: string) => {
      await withStore(async (store) => {
        const job = await store.getJob(jobKey);
        if (!job) throw new ConfigError([`jobs show ${jobKey}: no such job on record (labelq jobs list shows them)`]);
        process.stdout.write(`${formatJob(job, await store.batchesOf(jobKey))}\n`);
      });
    });
  jobs
    .command("cancel <jobKey>")
    .description("stop a job (StopModelInvocationJob); records done so far are billed and collected, the rest go live or to the DLQ (LABELQ_BULK_ON_JOB_FAILURE)")
    .action(async (jobKey: string) => {
      await withStore(async (store, clients) => {
        const outcome = await cancelJob(store, new BedrockJobControl(clients.bedrockControl), jobKey);
        const say: Record<typeof outcome.kind, string> = {
          stopping: `${jobKey}: stop requested on Bedrock; the worker collects what it finished`,
          "not-submitted": `${jobKey}: no job ARN recorded yet; the worker submits it with its clientRequestToken (finding any job already made) and stops it at once`,
          ended: `${jobKey}: already ended (${"job" in outcome ? (outcome.job.bedrockStatus ?? outcome.job.state) : ""}); nothing to cancel`,
          unknown: `${jobKey}: no such job on record`,
        };
        process.stdout.write(`${say[outcome.kind]}\n`);
        if (outcome.kind === "unknown") process.exitCode = 1;
      });
    });
}

async function withStore(body: (store: DynamoBulkStore, clients: AwsClients, config: Config) => Promise<void>): Promise<void> {
  const config = configFrom({});
  if (!config.bulk.table) throw new ConfigError(["LABELQ_BULK_TABLE=off: the bulk path has no table, so there are no jobs"]);
  const clients = createAwsClients(config);
  try {
    await body(new DynamoBulkStore(clients.dynamo, config.bulk.table, { recordTtlDays: config.store.batchRecordTtlDays }), clients, config);
  } finally {
    clients.destroy();
  }
}

/**
 * Batches waiting for a job (one row per model: the gather time runs from the oldest), then jobs
 * as a table.
 */
export function formatJobList(jobs: readonly JobRecord[], gathering: readonly Gathering[], gather: { gatherS: number; now: number }): string {
  const lines: string[] = [];
  if (gathering.length > 0) {
    lines.push("gathering (waiting for a job)", "model            batches  texts  oldest since              gather time ends");
    for (const g of gathering) {
      const endsInS = Math.round((Date.parse(g.oldestReceivedAt) + gather.gatherS * 1000 - gather.now) / 1000);
      lines.push(
        [
          g.model.padEnd(16),
          String(g.batches).padStart(7),
          String(g.texts).padStart(6),
          ` ${g.oldestReceivedAt.padEnd(24)}`,
          endsInS > 0 ? `in ${endsInS} s (LABELQ_BULK_GATHER_S)` : "now: a job (or live, below the model's minimum records) on the next bulk loop pass",
        ].join(" "),
      );
    }
    lines.push("");
  }
  if (jobs.length === 0) {
    lines.push("no bulk jobs on record");
    return lines.join("\n");
  }
  lines.push("job                       model            state       bedrock             batches  records  cost USD  created");
  for (const j of jobs) {
    lines.push(
      [
        j.jobKey.padEnd(25),
        j.model.padEnd(16),
        j.state.padEnd(11),
        (j.bedrockStatus ?? "-").padEnd(19),
        String(j.batches).padStart(7),
        String(j.records).padStart(8),
        (j.summary ? j.summary.costUsd.toFixed(4) : "-").padStart(9),
        ` ${j.createdAt}`,
      ].join(" "),
    );
  }
  return lines.join("\n");
}

/** One job and its batches (ids, states and reasons only: texts are user data). */
export function formatJob(job: JobRecord, batches: readonly IntakeRecord[]): string {
  const lines = [
    `job        ${job.jobKey} (${job.jobName})`,
    `model      ${job.model} (${job.modelId})`,
    `state      ${job.state}; Bedrock ${job.bedrockStatus ?? "not submitted"}${job.message ? `: ${job.message}` : ""}${job.cancelRequested ? " (cancel requested)" : ""}`,
    `arn        ${job.jobArn ?? "-"}`,
    `token      ${job.clientRequestToken}`,
    `input      ${job.inputPrefix} (${job.files.length} files, ${job.records} records, ${job.batches} batches)`,
    `output     ${job.outputPrefix}`,
    `times      created ${job.createdAt}; submitted ${job.submittedAt ?? "-"}; ended ${job.endedAt ?? "-"}`,
  ];
  if (job.summary) {
    const s = job.summary;
    lines.push(
      `records    ${s.answeredRecords} answered, ${s.failedRecords} failed, ${s.missingRecords} missing, ${s.malformedLines} malformed lines`,
      `texts      ${s.labelledTexts} labelled by the job, ${s.reaskedTexts} re-asked live`,
      `batches    ${s.publishedBatches} published, ${s.liveBatches} sent live, ${s.deadLetteredBatches} to the DLQ; cost ${s.costUsd.toFixed(6)} USD at batch prices`,
    );
  }
  lines.push("", "batch                                      state           texts  reason");
  for (const b of batches) lines.push(`${b.batchId.padEnd(42)} ${b.state.padEnd(15)} ${String(b.request.items.length).padStart(5)}  ${b.reason ?? ""}`);
  return lines.join("\n");
}
