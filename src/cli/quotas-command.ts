import type { Command } from "commander";
import Table from "cli-table3";
import { type PoolModelQuota, readPoolQuotas } from "../adapters/service-quotas.ts";
import { modelCatalogueFor } from "../app/worker/worker.ts";
import { configFrom } from "./config-from-flags.ts";

/** Add `labelq quotas`: each pool's Bedrock quotas from Service Quotas beside the limits configured. */
export function registerQuotasCommand(program: Command): void {
  program
    .command("quotas")
    .description(
      "For every quota pool (LABELQ_POOLS, or AWS_REGION alone) and model it serves: the Bedrock quotas Service Quotas reports in the pool's Region and account (tokens and requests per minute, tokens per day) beside the limits configured.",
    )
    .option("--json", "one JSON document instead of the table")
    .action(async (o: { json?: boolean }) => {
      const config = configFrom({});
      const rows = await readPoolQuotas(config, modelCatalogueFor(config));
      process.stdout.write(o.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatQuotas(rows)}\n`);
    });
}

const n = (v: number | undefined): string => (v === undefined ? "-" : v.toLocaleString("en-US"));

/** The table: one row per pool and model, configured/account for each limit; unreadable pools say why. */
export function formatQuotas(rows: readonly PoolModelQuota[]): string {
  const table = new Table({ head: ["pool", "region", "model", "model id", "rpm set / account", "tpm set / account", "tokens/day set / account"] });
  for (const r of rows) {
    const pair = (field: "rpm" | "tpm" | "tpd") => `${n(r.configured[field])} / ${r.account ? n(r.account[field]) : "?"}`;
    table.push([r.pool, r.region, r.model, r.modelId, pair("rpm"), pair("tpm"), pair("tpd")]);
  }
  const errors = [...new Map(rows.filter((r) => r.error !== undefined).map((r) => [r.pool, r.error!])).entries()];
  return [table.toString(), ...errors.map(([pool, error]) => `pool ${pool}: Service Quotas could not be read: ${error}`)].join("\n");
}
