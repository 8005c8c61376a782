import type { S3Client } from "@aws-sdk/client-s3";
import type { LenientRule } from "./strictness.ts";

import type { LabelErrorOptions } from "./label-errors.ts";
import type { JobFaultsInput, JobQuotasInput, JobsOptions, RepeatTokenAnswer } from "./jobs/job-settings.ts";
import type { JobTransition, JobView } from "./jobs/job-types.ts";

/**
 * Public types of the Bedrock emulator: a test double that answers the Converse API with
 * a simulated (deterministic, rule-based) classifier. It is not a model.
 */

/** Faults that fail the whole call with an AWS-shaped error. */
export const ERROR_FAULT_KINDS = ["throttle", "unavailable", "internal", "not-ready", "validation"] as const;

/** Faults that damage the answer the simulated classifier built. */
export const OUTPUT_FAULT_KINDS = [
  "trailing-comma",
  "missing-bracket",
  "prose",
  "code-fence",
  "truncate",
  "missing-ids",
  "extra-ids",
  "invalid-labels",
  "empty",
  // Offered a tool, the model answers the JSON as text instead (as models may with toolChoice auto).
  "ignore-tool",
  // Lines-format answers only: one line loses a field; one line is broken in two; doubled spaces, tabs and trailing blanks.
  "missing-field",
  "broken-line",
  "extra-separator",
] as const;

export const FAULT_KINDS = [...ERROR_FAULT_KINDS, ...OUTPUT_FAULT_KINDS] as const;

export type ErrorFaultKind = (typeof ERROR_FAULT_KINDS)[number];
export type OutputFaultKind = (typeof OUTPUT_FAULT_KINDS)[number];
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRule {
  kind: FaultKind;
  /** Chance (0..1) that the rule fires on a call it applies to; default 1. Drawn from a seeded PRNG. */
  probability?: number;
  /** Fire on at most this many calls, then stop. */
  times?: number;
  /** Only calls to these model ids (decoded, e.g. "meta.llama3-70b-instruct-v1:0"). */
  models?: string[];
}

export interface LatencyOptions {
  fixedMs: number;
  perOutputTokenMs: number;
}

/** The limits of one quota window; an absent limit is not enforced. */
export interface QuotaLimits {
  /** Requests per rolling 60 s window. */
  rpm?: number;
  /** Quota tokens per rolling 60 s window. */
  tpm?: number;
  /** Quota tokens per rolling 24 hours ("Too many tokens per day"). */
  tpd?: number;
}

/**
 * Bedrock's quotas, applied to each account, Region and model id apart (a window each). Tokens
 * are quota tokens: a call reserves input + cache + maxTokens (the model's cap when maxTokens is
 * not sent) when it starts and settles to input + cache writes + output x the model's burn-down
 * rate when it ends. The top-level limits apply everywhere; `byRegion` and `byAccount` override
 * them field by field, the most specific winning (account and Region, then account, then Region).
 */
export interface QuotaOptions extends QuotaLimits {
  /** Shorter rolling minute for fast tests (rpm and tpm scale with it); default 60. */
  windowSeconds?: number;
  /** Send a retry-after header on quota throttling. Bedrock sends none, so the default is false. */
  retryAfter?: boolean;
  /**
   * Flex-tier calls are throttled once the window, with them, would be above this share of its
   * rpm or tpm (and refused above this share of `maxConcurrent`): flex sheds first. Default 0.8.
   */
  flexShedAt?: number;
  /** Limits for one Region (the Region in the request's signature), e.g. `{ "us-west-2": { tpm: 200000 } }`. */
  byRegion?: Record<string, QuotaLimits>;
  /** Limits for one account (see the `accounts` setting), with Regions of its own. */
  byAccount?: Record<string, QuotaLimits & { byRegion?: Record<string, QuotaLimits> }>;
}

export interface BedrockEmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default "127.0.0.1". */
  host?: string;
  faults?: FaultRule[];
  latency?: LatencyOptions;
  quota?: QuotaOptions;
  /** Seeds the classifier's hash and the fault PRNG; default 0. */
  seed?: number;
  /** Calls to these model ids get ServiceUnavailableException. */
  unavailableModels?: string[];
  /**
   * Regions that are down: every request signed for one of them (Converse, jobs, Service Quotas)
   * gets 503 ServiceUnavailableException, as near as one port gets to an unreachable endpoint.
   */
  unavailableRegions?: string[];
  /** The account each access key belongs to (`{ AKID: "123456789012" }`), for per-account quotas; others are 000000000000. */
  accounts?: Record<string, string>;
  /**
   * Bedrock rules to relax (see strictness.ts); every other rule is enforced. Default
   * DEFAULT_LENIENT (empty: fully strict).
   */
  lenient?: LenientRule[];
  /** Calls in progress at once above this get 503 ServiceUnavailableException "Too many connections" (load shedding); 0 or absent: no cap. */
  maxConcurrent?: number;
  /** Error model for testing evaluation: flip labels and drift scales at these rates (label-errors.ts); none by default. */
  labelErrors?: LabelErrorOptions;
  /**
   * The error model of the custom models that customization jobs made from now on answer with,
   * through a custom model deployment or Provisioned Throughput: each job keeps the rates in force
   * when it was created, so a test sets a student's error rate per dimension. None by default.
   */
  studentLabelErrors?: LabelErrorOptions;
  /** Milliseconds since the epoch; default Date.now. Tests move it to expire the prompt cache and quota windows. */
  clock?: () => number;
  /**
   * Where model invocation jobs read their JSONL input and write their output (path-style S3,
   * e.g. fauxqs). Without it, every job fails at validation, as a job whose role cannot read
   * its input does.
   */
  s3?: S3Client;
  /**
   * Model invocation jobs (batch inference): `{ stepMs, recordsPerStep, hourMs, repeatTokenAnswer, quotas, faults }`
   * (jobs/job-settings.ts). Strict by default: Bedrock's quotas, no faults, 50 ms per status step.
   */
  jobs?: JobsOptions;
  logger?: (line: string) => void;
}

export interface ModelStats {
  calls: number;
  inputTokens: number;
  outputTokens: number;
}

export interface EmulatorStats {
  /** Every converse request received, whatever its outcome. */
  calls: number;
  succeeded: number;
  /** ThrottlingException answers (quota or injected). */
  throttled: number;
  /** Error answers by exception name (ThrottlingException included). */
  errors: Record<string, number>;
  byModel: Record<string, ModelStats>;
  /** Input tokens not read from or written to the prompt cache (usage.inputTokens). */
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheWriteInputTokens: number;
  faultsInjected: Record<string, number>;
}

export interface BedrockEmulator {
  /** http://host:port, to pass as the client's `endpoint`. */
  url: string;
  port: number;
  stats(): EmulatorStats;
  resetStats(): void;
  /** Clears stats, the quota windows and the prompt cache (what POST /_emulator/reset does). */
  reset(): void;
  /** Replaces the fault rules, restarts their `times` counters and re-seeds the fault PRNG. */
  setFaults(rules: FaultRule[]): void;
  setQuota(quota: QuotaOptions): void;
  setLatency(latency: LatencyOptions): void;
  setUnavailableModels(ids: string[]): void;
  /** Replaces the Regions that are down; [] brings every Region back. */
  setUnavailableRegions(regions: string[]): void;
  /** Replaces the access key to account map. */
  setAccounts(accounts: Record<string, string>): void;
  /** Replaces the relaxed rules: [] makes every rule strict. */
  setLenient(rules: LenientRule[]): void;
  /** 0 removes the cap. */
  setMaxConcurrent(max: number): void;
  /** Replaces the error model; {} turns it off. */
  setLabelErrors(options: LabelErrorOptions): void;
  /** Replaces the error model customization jobs created from now on give their custom model. */
  setStudentLabelErrors(options: LabelErrorOptions): void;
  /** Model invocation jobs (batch inference). */
  jobs: BedrockJobsControl;
  close(): Promise<void>;
}

export interface BedrockJobsControl {
  /** Every job, oldest first, as GetModelInvocationJob shows it. */
  list(): JobView[];
  /** Jobs created since start: a repeated clientRequestToken creates none. */
  created(): number;
  /** Replaces the faults (unset fields: off) for jobs submitted from now on. */
  setFaults(faults: JobFaultsInput): void;
  /** Replaces the quotas (unset fields: Bedrock's defaults). */
  setQuotas(quotas: JobQuotasInput): void;
  /** Time scale: ms per status step (or manual: steps wait for advance()), records per InProgress step, ms per hour of timeoutDurationInHours. */
  setTiming(timing: { stepMs?: number; manual?: boolean; recordsPerStep?: number; hourMs?: number }): void;
  /** What a repeated clientRequestToken is answered with from now on: "no-arn" (documented, the default) or "original-arn". */
  setRepeatTokenAnswer(answer: RepeatTokenAnswer): void;
  /** Every status a job (ARN or id) has taken, oldest first: transient statuses are asserted from here, not by polling. */
  history(job: string): JobTransition[];
  /** In manual mode, runs the job's next step and resolves when it has ended; false if none was waiting. */
  advance(job: string): Promise<boolean>;
}
