import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The least-privilege worker policy, kept in one place for every way of deploying labelq. */
export const WORKER_POLICY_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../iam/worker-policy.json");

export interface PolicyJson {
  Version: string;
  Statement: Record<string, unknown>[];
}

/**
 * deploy/iam/worker-policy.json with its placeholders filled in: REGION, ACCOUNT_ID (CDK
 * tokens or literals), the `labelq` name prefix and, for FIFO queues, the `.fifo` suffix on
 * the requests queue and the DLQ (the results pattern `labelq-results*` already covers it).
 * Nothing is added or removed, so the deployed role is exactly the documented one.
 */
export function workerPolicyJson(values: { region: string; account: string; prefix: string; fifo: boolean }): PolicyJson {
  const fifo = values.fifo ? ".fifo" : "";
  const text = readFileSync(WORKER_POLICY_FILE, "utf8")
    .replaceAll(":labelq-requests\"", `:labelq-requests${fifo}"`)
    .replaceAll(":labelq-dlq\"", `:labelq-dlq${fifo}"`)
    .replaceAll(":labelq-", `:${values.prefix}-`)
    .replaceAll("/labelq-", `/${values.prefix}-`)
    .replaceAll("REGION", values.region)
    .replaceAll("ACCOUNT_ID", values.account);
  return JSON.parse(text) as PolicyJson;
}
