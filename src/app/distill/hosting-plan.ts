import type { CustomizationJobStatus, HostingKind } from "../../adapters/bedrock/customization-control.ts";
import { InvalidRequestError } from "../../core/errors/errors.ts";
import { STUDENT_MODELS } from "./customization-targets.ts";

/** The flags of a Provisioned Throughput purchase. */
export interface ProvisionedFlags {
  modelUnits: number;
  /** OneMonth | SixMonths; absent: no commitment (hourly, deletable at any time). */
  commitment?: "OneMonth" | "SixMonths";
  /** The price of one model unit an hour, as the Bedrock console shows it for this base model and commitment. */
  unitHourlyUsd?: number;
  /** What the caller confirms paying an hour; must reach the computed hourly cost. */
  confirmHourlyCostUsd?: number;
}

/** How a student is served, what it costs, and which packaged catalogue entry its limits come from. */
export interface HostingPlan {
  kind: HostingKind;
  modelUnits?: number;
  commitment?: "OneMonth" | "SixMonths";
  hourlyUsd?: number;
  baseAlias: string;
  baseNote?: string;
}

// "You must customize the model on or after 7/16/2025" for on-demand deployment (userguide
// deploy-custom-model-on-demand; Nova's custom-fine-tune-odi: "trained after July 16, 2025").
export const ON_DEMAND_SINCE = Date.UTC(2025, 6, 16);

// prov-throughput: "For custom models with no commitment, a quota of one model unit is available for each Provisioned Throughput."
const NO_COMMIT_UNITS = 1;
const HOURS_PER_MONTH = 730;

/** The packaged catalogue entry a student's limits are copied from, and a note when it stands in for a model the catalogue lacks. */
const BASE_ALIASES: Readonly<Record<string, { alias: string; note?: string }>> = {
  "nova-micro": { alias: "nova-micro" },
  "nova-lite": { alias: "nova-lite" },
  "nova-pro": { alias: "nova-lite", note: "Nova Pro is not in the packaged catalogue: limits copied from nova-lite (same 300K context and 5K output cap)." },
  "llama3.1-8b": { alias: "llama3.3-70b", note: "Llama 3.1 8B is not in the packaged catalogue: limits copied from llama3.3-70b (Llama 3 tokenizer, 128K context, 2,048 output tokens)." },
  "llama3.2-1b": { alias: "llama3.3-70b", note: "Llama 3.2 1B is not in the packaged catalogue: limits copied from llama3.3-70b (Llama 3 tokenizer, 128K context, 2,048 output tokens)." },
  "llama3.2-3b": { alias: "llama3.3-70b", note: "Llama 3.2 3B is not in the packaged catalogue: limits copied from llama3.3-70b (Llama 3 tokenizer, 128K context, 2,048 output tokens)." },
};

const usd = (n: number) => `$${n.toFixed(2)}`;
const cents = (n: number) => Math.round(n * 100) / 100;

/**
 * Decides how to host a completed student: Nova on demand unless Provisioned Throughput is asked
 * for; every other student through Provisioned Throughput, whose hourly cost must be confirmed
 * with --confirm-hourly-cost before anything is bought. Refusals say which flags to pass.
 */
export function hostingPlan(student: string, job: CustomizationJobStatus, provisioned: ProvisionedFlags | undefined): HostingPlan {
  const target = STUDENT_MODELS[student];
  const base = BASE_ALIASES[student];
  if (target === undefined || base === undefined) throw new InvalidRequestError(`unknown student "${student}"`);
  const baseFields = { baseAlias: base.alias, ...(base.note === undefined ? {} : { baseNote: base.note }) };
  if (provisioned === undefined) {
    if (target.family !== "nova") {
      throw new InvalidRequestError(
        `${student} can't be deployed on demand: custom model deployments serve Amazon Nova students only, other custom models need Provisioned Throughput. ` +
          "Pass --provisioned --model-units 1 --unit-hourly-usd <price of one model unit an hour> --confirm-hourly-cost <the hourly total deploy shows>.",
      );
    }
    const trained = job.endTime?.getTime() ?? job.creationTime?.getTime();
    if (trained !== undefined && trained < ON_DEMAND_SINCE) {
      throw new InvalidRequestError(`${job.jobName} was trained before 2025-07-16: only Nova models customised on or after that date deploy on demand. Use --provisioned, or train again.`);
    }
    return { kind: "on-demand", ...baseFields };
  }
  if (provisioned.commitment === undefined && provisioned.modelUnits !== NO_COMMIT_UNITS) {
    throw new InvalidRequestError(`Provisioned Throughput with no commitment takes exactly ${NO_COMMIT_UNITS} model unit for a custom model; pass --model-units 1, or --commitment OneMonth|SixMonths for more`);
  }
  if (provisioned.unitHourlyUsd === undefined) {
    throw new InvalidRequestError(
      `--provisioned needs --unit-hourly-usd: the price of one model unit of ${student} an hour${provisioned.commitment === undefined ? " with no commitment" : ` with a ${provisioned.commitment} commitment`}, ` +
        "as the Bedrock console shows it when you purchase Provisioned Throughput (AWS publishes no per-unit prices in its documentation)",
    );
  }
  const hourlyUsd = cents(provisioned.modelUnits * provisioned.unitHourlyUsd);
  const confirmed = provisioned.confirmHourlyCostUsd;
  if (confirmed === undefined || confirmed + 1e-9 < hourlyUsd) {
    throw new InvalidRequestError(
      `Provisioned Throughput for ${student}: ${provisioned.modelUnits} model unit${provisioned.modelUnits === 1 ? "" : "s"} x ${usd(provisioned.unitHourlyUsd)} an hour = ${usd(hourlyUsd)} an hour ` +
        `(${usd(hourlyUsd * HOURS_PER_MONTH)} a month of ${HOURS_PER_MONTH} hours), billed while it exists whether or not it is called` +
        `${provisioned.commitment === undefined ? "" : `, and not deletable before the ${provisioned.commitment} term ends`}. ` +
        `${confirmed === undefined ? "To buy it" : `--confirm-hourly-cost ${confirmed} is less; to buy it`}, pass --confirm-hourly-cost ${hourlyUsd.toFixed(2)}`,
    );
  }
  return {
    kind: "provisioned",
    modelUnits: provisioned.modelUnits,
    ...(provisioned.commitment === undefined ? {} : { commitment: provisioned.commitment }),
    hourlyUsd,
    ...baseFields,
  };
}
