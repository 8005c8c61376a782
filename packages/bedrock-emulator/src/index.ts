// Bedrock emulator (test double, simulated model): answers the Converse API and runs model
// invocation jobs (batch inference) for the demo and the integration tests. Its classifier is
// deterministic rules, not a language model.
export { startBedrockEmulator } from "./server.ts";
export type { LabelErrorOptions } from "./label-errors.ts";
export { FAULT_KINDS, ERROR_FAULT_KINDS, OUTPUT_FAULT_KINDS } from "./types.ts";
export { LENIENT_RULES, DEFAULT_LENIENT, type LenientRule } from "./strictness.ts";
export { BEDROCK_MODELS, type BedrockModel } from "./bedrock-models.ts";
export { SERVICE_TIERS, type ServiceTierType } from "./converse-request.ts";
export type { JobStatus, JobView } from "./jobs/job-types.ts";
export type { JobFaultsInput, JobQuotasInput, JobsOptions } from "./jobs/job-settings.ts";
export type {
  BedrockEmulator,
  BedrockJobsControl,
  BedrockEmulatorOptions,
  EmulatorStats,
  ErrorFaultKind,
  FaultKind,
  FaultRule,
  LatencyOptions,
  ModelStats,
  OutputFaultKind,
  QuotaLimits,
  QuotaOptions,
} from "./types.ts";
export { controlBodySchema, type ControlBody } from "./settings-schema.ts";
export { parseLinesFormat } from "./lines-format.ts";
