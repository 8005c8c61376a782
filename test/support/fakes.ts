import path from "node:path";
import { fileURLToPath } from "node:url";
import pino, { type Logger } from "pino";
import type { LabelResult } from "../../src/core/contracts/result.ts";
import { StoreError } from "../../src/core/errors/errors.ts";
import type { CallFeedback, ModelCall, RateLimiter } from "../../src/core/quota/rate-limiter.ts";
import type { ModelProvider, ModelRequest, ModelResponse } from "../../src/core/models/model-provider.ts";
import type { ClaimOutcome, IdempotencyStore } from "../../src/core/idempotency/idempotency-store.ts";
import type { CacheEntry, CacheStats, LabelCache } from "../../src/core/cache/label-cache.ts";
import type { Dimension, Taxonomy } from "../../src/core/taxonomy/taxonomy-schema.ts";
import { lineField } from "../../src/core/prompts/output-format.ts";
import { parseLinesFormat } from "@labelq/bedrock-emulator";

/** The repository root, the shipped prompts and samples (tests never depend on the working directory). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const PROMPTS_DIR = path.join(REPO_ROOT, "prompts");
export const SAMPLES_DIR = path.join(REPO_ROOT, "samples");
export const SCHEMAS_DIR = path.join(REPO_ROOT, "schemas");

/** A logger that writes nothing. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

/** Run `fn` and return what it threw (fails the test when it does not throw). */
export function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to throw, but it returned");
}

/** Await `promise` and return its rejection reason (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject, but it resolved");
}

// ---------------------------------------------------------------------------------------------
// Rate limiter

/** A RateLimiter that runs every task at once and records the weights it was given. */
export class PassThroughLimiter implements RateLimiter {
  readonly weights: number[] = [];
  readonly calls: ModelCall[] = [];
  readonly reports: CallFeedback[] = [];
  /** Models paused until (epoch ms), as a spent daily quota pauses them; set by tests or by quota-exhausted feedback. */
  readonly paused = new Map<string, number>();
  closed = false;

  schedule<T>(call: ModelCall, task: () => Promise<T>): Promise<T> {
    this.weights.push(call.tokens);
    this.calls.push(call);
    return task();
  }

  report(call: ModelCall, feedback: CallFeedback): void {
    this.reports.push(feedback);
    if ("outcome" in feedback && feedback.outcome === "quota-exhausted") this.paused.set(call.model, feedback.resetsAt);
  }

  pausedUntil(model: string): number | undefined {
    return this.paused.get(model);
  }

  whenCanStart(): Promise<void> {
    return Promise.resolve();
  }

  queued(): number {
    return 0;
  }

  rateFactors(): Record<string, number> {
    return {};
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

// ---------------------------------------------------------------------------------------------
// Batch records and label cache

/** One batch record of FakeIdempotencyStore. */
export interface FakeBatchRecord {
  status: "IN_PROGRESS" | "COMPLETED";
  payloadHash: string;
  owner: string;
  leaseExpiresAt: number;
  result?: LabelResult;
}

/**
 * An IdempotencyStore in memory with the DynamoDB store's rules: one live lease per batch, a
 * lease taken over once expired, results kept only up to `maxStoredResultBytes`. `unavailable`
 * makes every call fail as an outage does; `failClaimWith` makes claim throw that error.
 */
export class FakeIdempotencyStore implements IdempotencyStore {
  readonly records = new Map<string, FakeBatchRecord>();
  readonly calls: string[] = [];
  unavailable = false;
  failClaimWith: Error | undefined;
  maxStoredResultBytes = Number.POSITIVE_INFINITY;
  now: () => number = Date.now;

  claim(batchId: string, payloadHash: string, owner: string, leaseMs: number): Promise<ClaimOutcome> {
    return this.#run("claim", (): ClaimOutcome => {
      if (this.failClaimWith) throw this.failClaimWith;
      const r = this.records.get(batchId);
      if (r && r.payloadHash !== payloadHash) return { kind: "conflict", storedPayloadHash: r.payloadHash };
      if (r?.status === "COMPLETED") return { kind: "completed", result: r.result };
      if (r && r.leaseExpiresAt >= this.now()) return { kind: "in-progress", leaseExpiresAt: r.leaseExpiresAt };
      this.records.set(batchId, { status: "IN_PROGRESS", payloadHash, owner, leaseExpiresAt: this.now() + leaseMs });
      return { kind: "claimed" };
    });
  }

  extend(batchId: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.#run("extend", () => {
      const r = this.#held(batchId, owner);
      if (r) r.leaseExpiresAt = this.now() + leaseMs;
      return r !== undefined;
    });
  }

  complete(batchId: string, owner: string, result: LabelResult): Promise<boolean> {
    return this.#run("complete", () => {
      const r = this.#held(batchId, owner);
      if (!r) return false;
      r.status = "COMPLETED";
      if (Buffer.byteLength(JSON.stringify(result)) <= this.maxStoredResultBytes) r.result = result;
      return true;
    });
  }

  release(batchId: string, owner: string): Promise<void> {
    return this.#run("release", () => {
      if (this.#held(batchId, owner)) this.records.delete(batchId);
    });
  }

  /** Another worker takes the batch's lease over, as after this one stalled past it. */
  takeOver(batchId: string, newOwner = "other-worker"): void {
    const r = this.records.get(batchId);
    if (!r) throw new Error(`no record for ${batchId}`);
    r.owner = newOwner;
  }

  #held(batchId: string, owner: string): FakeBatchRecord | undefined {
    const r = this.records.get(batchId);
    return r?.status === "IN_PROGRESS" && r.owner === owner ? r : undefined;
  }

  #run<T>(name: string, body: () => T): Promise<T> {
    this.calls.push(name);
    if (this.unavailable) return Promise.reject(new StoreError(`batch records unavailable (${name})`));
    // A throw in the executor rejects the promise, as a failed call does.
    return new Promise((resolve) => resolve(body()));
  }
}

/** A LabelCache in memory that honours expiry on read and counts like the DynamoDB one. */
export class FakeLabelCache implements LabelCache {
  readonly entries = new Map<string, CacheEntry>();
  readonly #stats: CacheStats = { reads: 0, hits: 0, writes: 0, errors: 0, readCapacityUnits: 0, writeCapacityUnits: 0 };
  now: () => number = Date.now;

  getMany(keys: readonly string[]): Promise<Map<string, CacheEntry>> {
    const nowS = Math.floor(this.now() / 1000);
    const found = new Map<string, CacheEntry>();
    for (const key of new Set(keys)) {
      this.#stats.reads += 1;
      const entry = this.entries.get(key);
      if (entry && entry.expiresAt > nowS) found.set(key, entry);
    }
    this.#stats.hits += found.size;
    return Promise.resolve(found);
  }

  putMany(entries: readonly CacheEntry[]): Promise<void> {
    for (const e of entries) this.entries.set(e.key, e);
    this.#stats.writes += entries.length;
    return Promise.resolve();
  }

  stats(): CacheStats {
    return { ...this.#stats };
  }
}

// ---------------------------------------------------------------------------------------------
// Model provider

/** One text as the classifier sent it: a `{"i":n,"t":...}` line (json format) or `n: "..."` line (lines format) of the user message. */
export interface AskedText {
  i: number;
  t: string;
}

/** The numbered texts of a user message, read back from its text lines (either format). */
export function askedTexts(user: string): AskedText[] {
  return user.split("\n").flatMap((line): AskedText[] => {
    if (line.startsWith("{")) {
      const value = JSON.parse(line) as { i?: unknown; t?: unknown };
      if (typeof value.i !== "number" || typeof value.t !== "string") throw new Error(`not a text line: ${line}`);
      return [{ i: value.i, t: value.t }];
    }
    const numbered = /^(\d+): (".*")$/.exec(line);
    return numbered?.[1] !== undefined && numbered[2] !== undefined ? [{ i: Number(numbered[1]), t: JSON.parse(numbered[2]) as string }] : [];
  });
}

/** Compact labels (dimension code -> label code) the fake model gives one text. */
export type Labeller = (text: string) => Record<string, unknown>;

/** What goes wrong in one call. Everything is optional; an empty object is a clean answer. */
export interface Damage {
  /** Output objects for one text in place of its clean answer `{i, ...labels}`: [] omits it, several add objects. */
  rewrite?: (text: AskedText, clean: Record<string, unknown>) => Record<string, unknown>[];
  /** Objects appended after the answers of every text. */
  extra?: Record<string, unknown>[];
  /** Write this many complete objects, then cut the next one in half and stop with "max_tokens" (or `stopReason`). */
  truncateAfter?: number;
  /** Throw this instead of answering. */
  error?: Error;
  /** Answer exactly this text (stopReason end_turn unless `stopReason` says otherwise). */
  text?: string;
  stopReason?: string;
  usage?: { inputTokens: number; outputTokens: number };
}

/** A call the fake received, with the texts it read from the user message. */
export interface FakeCall {
  index: number;
  request: ModelRequest;
  texts: AskedText[];
}

export interface FakeModelOptions {
  labeller: Labeller;
  /** Damage for a call (0-based call index, texts asked); undefined means a clean answer. */
  damage?: (call: FakeCall) => Damage | undefined;
  /** Token usage reported per call unless the damage says otherwise. */
  usage?: { inputTokens: number; outputTokens: number };
}

/**
 * A ModelProvider that answers like a well-behaved model: it reads the numbered texts of the
 * user message and writes `{"r":[{"i":n,...labels}, ...]}`, or one line per text when the request
 * asks for the lines format (fields in the order its system prompt gives), with scripted damage per call.
 */
export class FakeModelProvider implements ModelProvider {
  readonly calls: FakeCall[] = [];
  readonly #options: FakeModelOptions;

  constructor(options: FakeModelOptions) {
    this.#options = options;
  }

  converse(request: ModelRequest, signal?: AbortSignal): Promise<ModelResponse> {
    signal?.throwIfAborted();
    const call: FakeCall = { index: this.calls.length, request, texts: askedTexts(request.user) };
    this.calls.push(call);
    const damage = this.#options.damage?.(call) ?? {};
    if (damage.error) return Promise.reject(damage.error);
    const usage = damage.usage ?? this.#options.usage ?? { inputTokens: 1000, outputTokens: 200 };
    if (damage.text !== undefined) return Promise.resolve({ text: damage.text, stopReason: damage.stopReason ?? "end_turn", usage });

    const objects: Record<string, unknown>[] = [];
    for (const text of call.texts) {
      const clean = { i: text.i, ...this.#options.labeller(text.t) };
      objects.push(...(damage.rewrite ? damage.rewrite(text, clean) : [clean]));
    }
    objects.push(...(damage.extra ?? []));
    const lines = request.format === "lines";
    const fields = lines ? lineFields(request.system) : [];
    const serialized = objects.map((o) => (lines ? answerLine(o, fields) : JSON.stringify(o)));
    const [open, separator, close] = lines ? ["", "\n", ""] : ['{"r":[', ",", "]}"];
    if (damage.truncateAfter !== undefined && damage.truncateAfter < serialized.length) {
      const cut = serialized[damage.truncateAfter] ?? "";
      const kept = [...serialized.slice(0, damage.truncateAfter), cut.slice(0, Math.ceil(cut.length / 2))];
      return Promise.resolve({ text: `${open}${kept.join(separator)}`, stopReason: damage.stopReason ?? "max_tokens", usage });
    }
    return Promise.resolve({ text: `${open}${serialized.join(separator)}${close}`, stopReason: damage.stopReason ?? "end_turn", usage });
  }

  /** The texts of every call, in call order. */
  textsPerCall(): string[][] {
    return this.calls.map((c) => c.texts.map((t) => t.t));
  }
}

/** The fields a lines-format system prompt asks for, in order, with the kind of each: read as the Bedrock emulator reads them. */
function lineFields(system: string): Pick<Dimension, "code" | "kind">[] {
  const keys = parseLinesFormat(system);
  if (keys === undefined) throw new Error("FakeModelProvider: a lines-format prompt without the field order");
  return keys.map((k) => ({ code: k.code, kind: k.kind === "unknown" ? "single" : k.kind }));
}

/** An output object as a lines-format line: its number, then a field per dimension present in it, in order. */
function answerLine(o: Record<string, unknown>, fields: Pick<Dimension, "code" | "kind">[]): string {
  const present = fields.filter((d) => d.code in o).map((d) => lineField(d as Dimension, o[d.code]));
  return [String(o.i), ...present].join(" ");
}

/** Valid compact labels for a taxonomy, chosen deterministically from the text so different texts get different labels. */
export function validCompactLabels(taxonomy: Taxonomy, text: string): Record<string, unknown> {
  let seed = 0;
  for (const ch of text) seed = (seed * 31 + (ch.codePointAt(0) ?? 0)) % 1_000_003;
  const out: Record<string, unknown> = {};
  for (const [n, d] of taxonomy.dimensions.entries()) out[d.code] = pick(d, seed + n * 7);
  return out;
}

function pick(d: Dimension, seed: number): unknown {
  switch (d.kind) {
    case "single":
      return d.labels[seed % d.labels.length]?.code;
    case "multi":
      return d.labels.slice(0, Math.max(d.minItems, Math.min(d.maxItems, seed % 3))).map((l) => l.code);
    case "scale":
      return d.min + (seed % (d.max - d.min + 1));
    case "boolean":
      return seed % 2;
  }
}

// ---------------------------------------------------------------------------------------------
// A small taxonomy with every kind of dimension, as raw JSON (tests mutate copies of it).

export interface RawTaxonomy {
  name: string;
  title: string;
  description: string;
  dimensions: Record<string, unknown>[];
}

export function miniTaxonomyJson(): RawTaxonomy {
  return {
    name: "mini",
    title: "Mini feedback",
    description: "A small taxonomy for tests.",
    dimensions: [
      {
        key: "sentiment",
        code: "sen",
        title: "Sentiment",
        kind: "single",
        definition: "Overall attitude.",
        labels: [
          { name: "positive", code: "pos", description: "Favourable." },
          { name: "negative", code: "neg", description: "Unfavourable." },
          { name: "neutral", code: "neu", description: "Neither." },
        ],
        examples: [{ text: "Love it.", label: "positive" }],
      },
      {
        key: "topics",
        code: "top",
        title: "Topics",
        kind: "multi",
        definition: "What the text talks about.",
        labels: [
          { name: "price", code: "pri", description: "Cost." },
          { name: "quality", code: "qua", description: "Build quality." },
          { name: "delivery", code: "del", description: "Shipping." },
        ],
        minItems: 0,
        maxItems: 2,
        examples: [{ text: "Cheap and arrived fast.", label: ["price", "delivery"] }],
      },
      {
        key: "quality",
        code: "q",
        title: "Perceived quality",
        kind: "scale",
        definition: "How good the author thinks it is.",
        min: 1,
        max: 5,
        anchors: [
          { value: 1, description: "Poor." },
          { value: 5, description: "Excellent." },
        ],
        nullable: true,
        examples: [{ text: "Solid build.", label: 4 }],
      },
      {
        key: "credibility",
        code: "cr",
        title: "Credibility",
        kind: "scale",
        definition: "How believable the text is.",
        min: 1,
        max: 3,
        anchors: [
          { value: 1, description: "Not credible." },
          { value: 3, description: "Credible." },
        ],
      },
      {
        key: "sarcasm",
        code: "sar",
        title: "Sarcasm",
        kind: "boolean",
        definition: "Says the opposite of what it means.",
        examples: [{ text: "Great, broken again.", label: true }],
      },
      {
        key: "refund_wanted",
        code: "ref",
        title: "Refund wanted",
        kind: "boolean",
        definition: "Asks for money back.",
        nullable: true,
      },
    ],
  };
}
