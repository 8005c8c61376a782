// Bedrock emulator (test double, simulated model): answers the Converse API for the demo
// and the integration tests. Its classifier is deterministic rules, not a language model.
export { startBedrockEmulator } from "./server.ts";
export { FAULT_KINDS, ERROR_FAULT_KINDS, OUTPUT_FAULT_KINDS } from "./types.ts";
export type {
  BedrockEmulator,
  BedrockEmulatorOptions,
  EmulatorStats,
  ErrorFaultKind,
  FaultKind,
  FaultRule,
  LatencyOptions,
  ModelStats,
  OutputFaultKind,
  QuotaOptions,
} from "./types.ts";
