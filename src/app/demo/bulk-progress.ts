import { minRecordsFor, roughRecords } from "../bulk/assemble-jobs.ts";
import type { BulkStore, IntakeRecord } from "../../core/bulk/bulk-store.ts";
import type { BulkConfig } from "../../core/config/config.ts";
import type { ModelCatalogue } from "../../core/models/model-catalogue.ts";

export interface BulkProgressSettings {
  bulk: Pick<BulkConfig, "gatherS" | "limits">;
  chunkSize: number;
  catalogue: ModelCatalogue;
  now?: () => number;
}

/**
 * Where the awaited bulk batches are, as the bulk table records them, in one line: how many are
 * gathering (with every batch of the same model waiting, whoever sent it, the records they make
 * against the model's minimum per job, and when the gather time runs out), in jobs (Bedrock's
 * status), being published, or sent to the live path. Undefined when none is on record yet.
 */
export async function bulkProgress(store: BulkStore, awaited: ReadonlySet<string>, settings: BulkProgressSettings): Promise<string | undefined> {
  const now = (settings.now ?? Date.now)();
  const intakes = (await Promise.all([...awaited].map((id) => store.findIntake(id)))).filter((i): i is IntakeRecord => i !== undefined);
  if (intakes.length === 0) return undefined;
  const parts: string[] = [];
  for (const model of new Set(intakes.filter((i) => i.state === "pending").map((i) => i.model))) {
    const spec = settings.catalogue.find(model);
    const gathering = await store.pending(model);
    if (gathering.length === 0 || !spec) continue;
    // The gather decision's own count and minimum (assemble-jobs.ts).
    const records = gathering.reduce((n, i) => n + roughRecords(i, settings.chunkSize), 0);
    const minimum = minRecordsFor(settings, spec);
    const leftS = Math.max(0, Math.ceil(settings.bulk.gatherS - (now - Date.parse(gathering[0]!.receivedAt)) / 1000));
    const mine = intakes.filter((i) => i.state === "pending" && i.model === model).length;
    const batches = `${gathering.length} ${gathering.length === 1 ? "batch" : "batches"}${mine < gathering.length ? ` (${mine} of them yours)` : ""}`;
    const when =
      records >= minimum
        ? `job in ${leftS} s (or sooner at ${settings.bulk.limits.maxRecordsPerJob} records)`
        : `below the minimum: unless more records arrive, the batches go to the live path in ${leftS} s`;
    parts.push(`gathering (${model}): ${batches}, ${records} of ${minimum} minimum records, ${when}`);
  }
  const jobs = new Map<string, number>();
  for (const i of intakes) if (i.state === "assigned" && i.jobKey) jobs.set(i.jobKey, (jobs.get(i.jobKey) ?? 0) + 1);
  for (const [jobKey, n] of jobs) {
    const job = await store.getJob(jobKey);
    parts.push(`in job ${jobKey}: ${n} ${n === 1 ? "batch" : "batches"}, ${job?.bedrockStatus ? `Bedrock ${job.bedrockStatus}` : (job?.state ?? "on record")}`);
  }
  const count = (states: readonly IntakeRecord["state"][]) => intakes.filter((i) => states.includes(i.state)).length;
  const publishing = count(["publishing", "done"]);
  if (publishing > 0) parts.push(`${publishing} published or being published`);
  const live = intakes.filter((i) => i.state === "live" || (i.state === "handing-off" && i.handOffTo === "live"));
  if (live.length > 0) parts.push(`${live.length} sent to the live path${live[0]?.reason ? ` (${live[0].reason})` : ""}`);
  return parts.length > 0 ? parts.join("; ") : undefined;
}
