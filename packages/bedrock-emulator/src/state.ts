import { FaultInjector } from "./faults.ts";
import { PromptCache } from "./prompt-cache.ts";
import { QuotaLedger } from "./quota.ts";
import { StatsRecorder } from "./stats.ts";
import type { LabelErrorOptions } from "./label-errors.ts";
import type { LenientRule } from "./strictness.ts";
import type { FaultRule, LatencyOptions, QuotaOptions } from "./types.ts";
import type { JobsSettings } from "./jobs/job-settings.ts";

/** The emulator's mutable settings and counters, shared by the converse and control routes. */
export class EmulatorState {
  readonly seed: number;
  readonly stats = new StatsRecorder();
  readonly quota: QuotaLedger;
  readonly promptCache: PromptCache;
  faults: FaultInjector;
  latency: LatencyOptions;
  unavailableModels: Set<string>;
  /** Regions that are down: requests signed for them get 503 (request-identity.ts). */
  unavailableRegions: ReadonlySet<string> = new Set();
  /** Access key id -> account id, for per-account quotas. */
  accounts: ReadonlyMap<string, string> = new Map();
  lenient: ReadonlySet<LenientRule>;
  /** 0: no cap. */
  maxConcurrent: number;
  /** The error model applied to every answer (label-errors.ts); {} is none. */
  labelErrors: LabelErrorOptions = {};
  /** The error model a model customization job's custom model answers with, taken when the job is created; {} is none. */
  studentLabelErrors: LabelErrorOptions = {};
  /** Calls accepted and not yet answered, for the concurrency cap. */
  inFlight = 0;
  /** Model invocation jobs: time scale, quotas and faults (jobs/job-settings.ts). */
  jobs: JobsSettings;
  /** Milliseconds since the epoch (the emulator's clock option). */
  readonly now: () => number;

  constructor(
    seed: number,
    faults: FaultRule[],
    quota: QuotaOptions,
    latency: LatencyOptions,
    unavailableModels: string[],
    lenient: readonly LenientRule[],
    maxConcurrent: number,
    jobs: JobsSettings,
    now: () => number = Date.now,
  ) {
    this.now = now;
    this.seed = seed;
    this.faults = new FaultInjector(faults, seed);
    this.quota = new QuotaLedger(quota, now);
    this.promptCache = new PromptCache(now);
    this.latency = latency;
    this.unavailableModels = new Set(unavailableModels);
    this.lenient = new Set(lenient);
    this.maxConcurrent = maxConcurrent;
    this.jobs = jobs;
  }

  /** Replaces the fault rules; a fresh PRNG makes the new rule set repeatable from here. */
  setFaults(rules: FaultRule[]): void {
    this.faults = new FaultInjector(rules, this.seed);
  }

  setQuota(quota: QuotaOptions): void {
    this.quota.quota = quota;
  }

  setLatency(latency: LatencyOptions): void {
    this.latency = latency;
  }

  setUnavailableModels(ids: string[]): void {
    this.unavailableModels = new Set(ids);
  }

  setUnavailableRegions(regions: readonly string[]): void {
    this.unavailableRegions = new Set(regions);
  }

  setAccounts(accounts: Record<string, string>): void {
    this.accounts = new Map(Object.entries(accounts));
  }

  setLenient(rules: readonly LenientRule[]): void {
    this.lenient = new Set(rules);
  }

  setMaxConcurrent(max: number): void {
    this.maxConcurrent = max;
  }

  setLabelErrors(options: LabelErrorOptions): void {
    this.labelErrors = options;
  }

  setStudentLabelErrors(options: LabelErrorOptions): void {
    this.studentLabelErrors = options;
  }

  /** Replaces the job settings given; the others stay. Jobs already submitted keep the faults they were submitted under. */
  setJobs(settings: Partial<JobsSettings>): void {
    this.jobs = { ...this.jobs, ...settings };
  }

  /** Clears counters, quota windows and the prompt cache, leaving the settings as they are. */
  reset(): void {
    this.stats.reset();
    this.quota.clear();
    this.promptCache.clear();
  }
}
