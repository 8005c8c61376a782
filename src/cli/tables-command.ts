import type { Command } from "commander";
import { createAwsClients } from "../aws-clients.ts";
import { DEFAULTS } from "../config/config.ts";
import { createTables } from "../store/create-tables.ts";
import { StoreError } from "../errors/errors.ts";
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
        for (const r of reports) process.stdout.write(`${r.table}: ${r.created ? "created" : "exists"}, TTL on expiresAt ${r.ttl}\n`);
      } finally {
        clients.destroy();
      }
    });
}
