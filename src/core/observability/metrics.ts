import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * labelq's Prometheus metrics, in one registry per process. Label values are bounded: model
 * aliases come from the registry, taxonomies and versions from the prompts directory,
 * outcomes and error codes from fixed lists; anything else is reported as "unknown".
 */
export class Metrics {
  readonly registry = new Registry();

  readonly batches = new Counter({
    name: "labelq_batches_total",
    help: "Request messages handled, by outcome (published, republished, dead-lettered, deferred, retry-later, quota-hold, returned, lease-lost)",
    labelNames: ["outcome", "taxonomy", "prompt_version", "model"] as const,
    registers: [this.registry],
  });

  readonly batchDuration = new Histogram({
    name: "labelq_batch_duration_seconds",
    help: "Time from receiving a request message to its outcome",
    labelNames: ["outcome"] as const,
    buckets: [0.1, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320],
    registers: [this.registry],
  });

  readonly texts = new Counter({
    name: "labelq_texts_total",
    help: "Texts in published results, by result: model (labelled by a model), cache (served from the label cache), error",
    labelNames: ["result", "taxonomy", "model"] as const,
    registers: [this.registry],
  });

  readonly itemErrors = new Counter({
    name: "labelq_item_errors_total",
    help: "Per-item errors in published results, by code",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });

  readonly modelCalls = new Counter({
    name: "labelq_model_calls_total",
    help: "Bedrock calls by model alias and outcome (ok, throttled, unavailable, rejected, timeout, error), and service tier (default, flex, priority) when the call was sent with one",
    labelNames: ["model", "outcome", "tier"] as const,
    registers: [this.registry],
  });

  readonly modelCallDuration = new Histogram({
    name: "labelq_model_call_duration_seconds",
    help: "Latency of one Bedrock call attempt, by model alias and outcome",
    labelNames: ["model", "outcome"] as const,
    buckets: [0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120],
    registers: [this.registry],
  });

  readonly retries = new Counter({
    name: "labelq_model_retries_total",
    help: "Model calls tried again within a batch, by model alias and the error code that caused it",
    labelNames: ["model", "code"] as const,
    registers: [this.registry],
  });

  readonly tokens = new Counter({
    name: "labelq_tokens_total",
    help: "Model tokens by model alias and direction (input, output), and the service tier that served them when the call was sent with one",
    labelNames: ["model", "direction", "tier"] as const,
    registers: [this.registry],
  });

  readonly reservedTokens = new Counter({
    name: "labelq_reserved_tokens_total",
    help: "Tokens-per-minute quota Bedrock reserved for answered calls (input + maxTokens), by model alias: the quota's real cost of a call",
    labelNames: ["model"] as const,
    registers: [this.registry],
  });

  readonly costUsd = new Counter({
    name: "labelq_cost_usd_total",
    help: "Model cost in USD at the catalogue's prices (the served service tier's, when the call was sent with one), by model alias and tier",
    labelNames: ["model", "tier"] as const,
    registers: [this.registry],
  });

  readonly fallbacks = new Counter({
    name: "labelq_model_fallbacks_total",
    help: "Chunks or texts handed to a fallback model, by reason (unavailable, invalid-output)",
    labelNames: ["from", "to", "reason"] as const,
    registers: [this.registry],
  });

  readonly cacheLookups = new Counter({
    name: "labelq_cache_lookups_total",
    help: "Label cache lookups per text: hit (all dimensions), partial (some definitions changed), miss",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });

  readonly shadowLabels = new Counter({
    name: "labelq_shadow_labels_total",
    help: "Labels compared between an alias's version and its shadow version, by dimension and whether they agreed",
    labelNames: ["taxonomy", "alias", "baseline", "shadow", "dimension", "agreed"] as const,
    registers: [this.registry],
  });

  readonly cascadeTexts = new Counter({
    name: "labelq_cascade_texts_total",
    help: "Texts a cascade (LABELQ_MODEL_ROUTES) labelled student first, by whether the teacher was asked about them",
    labelNames: ["student", "teacher", "teacher_asked"] as const,
    registers: [this.registry],
  });

  readonly cascadeTeacherDimensions = new Counter({
    name: "labelq_cascade_teacher_dimensions_total",
    help: "Dimensions a cascade asked of the teacher, summed over texts, by reason (held by the gate, samples disagreed, student failed)",
    labelNames: ["student", "teacher", "reason"] as const,
    registers: [this.registry],
  });

  readonly dlqSends = new Counter({
    name: "labelq_dlq_sends_total",
    help: "Messages labelq sent to the DLQ, by error code",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });

  readonly bulkRecords = new Counter({
    name: "labelq_bulk_records_total",
    help: "Batch inference records read from job outputs, by outcome (answered, failed, missing) and model; malformed counts unreadable output lines",
    labelNames: ["outcome", "model"] as const,
    registers: [this.registry],
  });

  readonly bulkBatches = new Counter({
    name: "labelq_bulk_batches_total",
    help: "Bulk batches by outcome: accepted (taken off SQS), published (from a job's output), live (handed to the live path), dead-lettered",
    labelNames: ["outcome", "model"] as const,
    registers: [this.registry],
  });

  readonly bulkReasked = new Counter({
    name: "labelq_bulk_reasked_texts_total",
    help: "Texts a batch inference job did not label validly, re-asked on the live path",
    labelNames: ["model"] as const,
    registers: [this.registry],
  });

  readonly bulkJobs = new Gauge({
    name: "labelq_bulk_jobs",
    help: "Batch inference jobs on record, by labelq state (assembling, submitting, running, collecting, done) and Bedrock status, as of the bulk loop's last pass",
    labelNames: ["state", "status"] as const,
    registers: [this.registry],
    collect: () => {
      this.bulkJobs.reset();
      for (const { state, status, count } of this.#bulkJobs()) this.bulkJobs.set({ state, status }, count);
    },
  });

  #bulkJobs: () => { state: string; status: string; count: number }[] = () => [];

  /** Name where the bulk jobs gauge reads its counts from (the bulk loop). */
  observeBulkJobs(source: () => { state: string; status: string; count: number }[]): void {
    this.#bulkJobs = source;
  }

  readonly bulkSlotWaits = new Gauge({
    name: "labelq_bulk_batches_waiting_for_slot",
    help: "Bulk batches waiting while their model has LABELQ_BULK_MAX_JOBS jobs open, by model alias, as of the bulk loop's last pass; past LABELQ_BULK_MAX_WAIT_S they go live",
    labelNames: ["model"] as const,
    registers: [this.registry],
    collect: () => {
      this.bulkSlotWaits.reset();
      for (const { model, batches } of this.#bulkSlotWaits()) this.bulkSlotWaits.set({ model }, batches);
    },
  });

  #bulkSlotWaits: () => { model: string; batches: number }[] = () => [];

  /** Name where the waiting-for-a-job-slot gauge reads its counts from (the bulk loop). */
  observeBulkSlotWaits(source: () => { model: string; batches: number }[]): void {
    this.#bulkSlotWaits = source;
  }

  // Gauges are read from their sources when Prometheus scrapes, not tracked on every change.
  #sources: GaugeSources = { inFlight: () => 0, limiterQueued: () => 0, cacheErrors: () => 0, rateFactors: () => ({}), breakers: () => ({}) };

  readonly inFlight = this.#gauge("labelq_inflight_batches", "Batches being worked on in this process", "inFlight");
  readonly limiterQueued = this.#gauge("labelq_limiter_queued", "Model calls waiting for the rate limiter", "limiterQueued");
  readonly cacheErrors = this.#gauge("labelq_cache_errors", "Label cache reads or writes that failed and degraded to no cache (since start)", "cacheErrors");

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: "labelq_process_" });
  }

  readonly rateFactor = new Gauge({
    name: "labelq_limiter_rate_factor",
    help: "Share of each model's configured quota the adaptive limiter uses now (1 = full quota)",
    labelNames: ["model"] as const,
    registers: [this.registry],
    collect: () => {
      for (const [model, factor] of Object.entries(this.#sources.rateFactors())) this.rateFactor.set({ model }, factor);
    },
  });

  readonly breakerOpen = new Gauge({
    name: "labelq_circuit_open",
    help: "1 while a model's circuit breaker is open or half-open (calls skip the model), else 0",
    labelNames: ["model"] as const,
    registers: [this.registry],
    collect: () => {
      for (const [model, state] of Object.entries(this.#sources.breakers())) this.breakerOpen.set({ model }, state === "closed" ? 0 : 1);
    },
  });

  readonly poolAvailable = new Gauge({
    name: "labelq_pool_available",
    help: "1 while a quota pool (LABELQ_POOLS) is in service, 0 while it is taken out after its endpoint failed or refused access",
    labelNames: ["pool"] as const,
    registers: [this.registry],
    collect: () => {
      for (const [pool, available] of Object.entries(this.#sources.pools?.() ?? {})) this.poolAvailable.set({ pool }, available ? 1 : 0);
    },
  });

  readonly poolTokensToday = new Gauge({
    name: "labelq_pool_tokens_today",
    help: "Tokens counted against a quota pool's day budget (LABELQ_POOLS tpd) for a model over the rolling 24 hours, fleet-wide, as of the lane's last count",
    labelNames: ["pool", "model"] as const,
    registers: [this.registry],
    collect: () => {
      for (const d of this.#sources.poolDays?.() ?? []) this.poolTokensToday.set({ pool: d.pool, model: d.model }, d.tokens);
    },
  });

  readonly poolDayShare = new Gauge({
    name: "labelq_pool_day_share_used",
    help: "Share of a quota pool's day budget (tpd) used by a model over the rolling 24 hours (1 = spent: calls go to other pools)",
    labelNames: ["pool", "model"] as const,
    registers: [this.registry],
    collect: () => {
      for (const d of this.#sources.poolDays?.() ?? []) this.poolDayShare.set({ pool: d.pool, model: d.model }, d.tpd > 0 ? d.tokens / d.tpd : 0);
    },
  });

  /** Name where the gauges read their values from. */
  observeGauges(sources: GaugeSources): void {
    this.#sources = sources;
  }

  #gauge(name: string, help: string, source: "inFlight" | "limiterQueued" | "cacheErrors"): Gauge {
    const read = () => this.#sources[source]();
    return new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }
}

export interface GaugeSources {
  inFlight: () => number;
  limiterQueued: () => number;
  cacheErrors: () => number;
  rateFactors: () => Record<string, number>;
  breakers: () => Record<string, string>;
  /** Whether each quota pool is in service, by pool id; absent without LABELQ_POOLS. */
  pools?: () => Record<string, boolean>;
  /** Each pool and model's tokens in the rolling day and its tpd, for lanes with a tpd; absent without LABELQ_POOLS. */
  poolDays?: () => { pool: string; model: string; tokens: number; tpd: number }[];
}
