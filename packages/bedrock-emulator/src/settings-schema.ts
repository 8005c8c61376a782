import { z } from "zod";
import { LENIENT_RULES } from "./strictness.ts";
import { FAULT_KINDS } from "./types.ts";
import { jobFaultsSchema, jobQuotasSchema, repeatTokenAnswerSchema } from "./jobs/job-settings.ts";

export { jobsOptionsSchema } from "./jobs/job-settings.ts";

/** Model invocation job settings in a control body: each field present replaces that setting (quotas and faults whole, defaults filled in). */
export const jobsControlSchema = z.strictObject({
  stepMs: z.number().min(0).optional(),
  recordsPerStep: z.number().int().min(1).optional(),
  hourMs: z.number().min(1).optional(),
  /** What a repeated clientRequestToken is answered with from now on (jobs/job-settings.ts, repeatTokenAnswerSchema). */
  repeatTokenAnswer: repeatTokenAnswerSchema.optional(),
  /** Model units granted for Provisioned Throughput (jobs/job-settings.ts). */
  provisionedModelUnits: z.number().int().min(0).optional(),
  quotas: jobQuotasSchema.optional(),
  faults: jobFaultsSchema.optional(),
});

// One schema for the options passed in code and for PUT /_emulator/faults, so a typo
// in either fails loudly instead of silently injecting nothing.

export const faultRuleSchema = z.strictObject({
  kind: z.enum(FAULT_KINDS),
  probability: z.number().min(0).max(1).optional(),
  times: z.number().int().min(0).optional(),
  models: z.array(z.string().min(1)).optional(),
});

const limit = z.number().int().min(0).optional();
const quotaLimitsSchema = z.strictObject({ rpm: limit, tpm: limit, tpd: limit });
/** An AWS Region name, e.g. us-west-2 (how the signature's credential scope names it). */
export const regionNameSchema = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, "an AWS Region name such as us-west-2");
/** A 12-digit AWS account id. */
export const accountIdSchema = z.string().regex(/^\d{12}$/, "a 12-digit account id");
const byRegionSchema = z.record(regionNameSchema, quotaLimitsSchema);

export const quotaSchema = z.strictObject({
  ...quotaLimitsSchema.shape,
  windowSeconds: z.number().int().min(1).max(60).optional(),
  retryAfter: z.boolean().optional(),
  flexShedAt: z.number().min(0).max(1).optional(),
  byRegion: byRegionSchema.optional(),
  byAccount: z.record(accountIdSchema, quotaLimitsSchema.extend({ byRegion: byRegionSchema.optional() })).optional(),
});

/** Regions that are down. */
export const unavailableRegionsSchema = z.array(regionNameSchema);

/** Access key id -> account id. */
export const accountsSchema = z.record(z.string().min(1), accountIdSchema);

export const lenientSchema = z.array(z.enum(LENIENT_RULES));

/** 0 means no cap. */
export const maxConcurrentSchema = z.number().int().min(0);

export const latencySchema = z.strictObject({
  fixedMs: z.number().min(0),
  perOutputTokenMs: z.number().min(0),
});

const errorRate = z.number().min(0).max(1);
const rateOrPerDimension = z.union([errorRate, z.record(z.string(), errorRate)]);

/** The error model (label-errors.ts): label flips and scale drift at set rates, for testing evaluation. */
export const labelErrorsSchema = z.strictObject({ flip: rateOrPerDimension.optional(), drift: rateOrPerDimension.optional() });

/** Body of PUT /_emulator/faults: each field present replaces that setting. */
export const controlBodySchema = z.strictObject({
  faults: z.array(faultRuleSchema).optional(),
  quota: quotaSchema.optional(),
  latency: latencySchema.optional(),
  unavailableModels: z.array(z.string().min(1)).optional(),
  unavailableRegions: unavailableRegionsSchema.optional(),
  accounts: accountsSchema.optional(),
  lenient: lenientSchema.optional(),
  maxConcurrent: maxConcurrentSchema.optional(),
  labelErrors: labelErrorsSchema.optional(),
  studentLabelErrors: labelErrorsSchema.optional(),
  jobs: jobsControlSchema.optional(),
});

export type ControlBody = z.infer<typeof controlBodySchema>;
