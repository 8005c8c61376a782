import type { Command } from "commander";
import { createAwsClients } from "../adapters/aws-clients.ts";
import { DEFAULTS } from "../core/config/config.ts";
import { createTables, type TableReport } from "../adapters/dynamodb/create-tables.ts";
import { StoreError } from "../core/errors/errors.ts";
import { configFrom } from "./config-from-flags.ts";
import { networkFailure } from "./describe-error.ts";

/** Add `labelq tables create`: the DynamoDB tables of the label cache and the batch records, and the bulk path's when it is on. */
export function registerTablesCommand(program: Command): void {
  program
    .command("tables")
    .description("DynamoDB tables of the label cache and the batch records (and of bulk jobs, with the bulk path on).")
    .command("create")
    .description("create the tables if missing (idempotent), wait until active, turn on TTL where the service supports it; the bulk table too when LABELQ_BULK_BUCKET and LABELQ_BULK_ROLE_ARN are set")
    .action(async () => {
      const config = configFrom({});
      const clients = createAwsClients(config);
      try {
        const reports = await createTables(clients.dynamoBase, {
          cacheTable: config.store.cacheTable ?? DEFAULTS.tables.cacheTable,
          batchesTable: config.store.batchesTable ?? DEFAULTS.tables.batchesTable,
          ...(config.bulk.enabled && config.bulk.table ? { bulkTable: config.bulk.table } : {}),
        }).catch((error: unknown) => {
          const network = networkFailure(error);
          if (!network) throw error;
          const where = config.endpoints.dynamodb
            ? `the DynamoDB endpoint ${config.endpoints.dynamodb} (AWS_ENDPOINT_URL_DYNAMODB) does not answer: is the stack running?`
            : `no AWS_ENDPOINT_URL_DYNAMODB is set, so this went to AWS DynamoDB in ${config.region}; for \`labelq local\` source the env file it writes (out/labelq-local.env)`;
          throw new StoreError(`cannot reach ${network.host ?? "DynamoDB"} (${network.code}): ${where}`, { cause: error });
        });
        process.stdout.write(`${formatTableReports(reports)}\n`);
      } finally {
        clients.destroy();
      }
    });
}

/** One line per table, then what a TTL that is not on means for the user (once, not per table). */
export function formatTableReports(reports: readonly TableReport[]): string {
  const lines = reports.map((r) => `${r.table}: ${r.created ? "created" : "exists"}, TTL on expiresAt ${r.ttl === "unsupported" ? "unsupported by this DynamoDB service" : r.ttl}`);
  if (reports.some((r) => r.ttl !== "enabled")) {
    lines.push(
      "without TTL nothing changes for labelling: labelq ignores expired records when it reads them; they are just not deleted, so they stay in the table (and its storage) until it goes",
    );
  }
  if (reports.some((r) => r.ttl === "failed")) {
    lines.push("to turn TTL on by hand: aws dynamodb update-time-to-live --table-name <table> --time-to-live-specification Enabled=true,AttributeName=expiresAt");
  }
  return lines.join("\n");
}
