import type { EmulatorStats, ModelStats } from "./types.ts";

function empty(): EmulatorStats {
  return { calls: 0, succeeded: 0, throttled: 0, errors: {}, byModel: {}, inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheWriteInputTokens: 0, faultsInjected: {} };
}

/** Counters behind GET /_emulator/stats. */
export class StatsRecorder {
  #stats: EmulatorStats = empty();

  #model(modelId: string): ModelStats {
    const existing = this.#stats.byModel[modelId];
    if (existing) return existing;
    const created = { calls: 0, inputTokens: 0, outputTokens: 0 };
    this.#stats.byModel[modelId] = created;
    return created;
  }

  /** Counts a converse request as it arrives, whatever its outcome. */
  call(modelId: string): void {
    this.#stats.calls += 1;
    this.#model(modelId).calls += 1;
  }

  /** Counts an answered call and its tokens; input tokens as usage reports them, without the cached ones. */
  success(modelId: string, inputTokens: number, outputTokens: number, cache: { read: number; write: number } = { read: 0, write: 0 }): void {
    const model = this.#model(modelId);
    this.#stats.succeeded += 1;
    this.#stats.inputTokens += inputTokens;
    this.#stats.outputTokens += outputTokens;
    this.#stats.cacheReadInputTokens += cache.read;
    this.#stats.cacheWriteInputTokens += cache.write;
    model.inputTokens += inputTokens;
    model.outputTokens += outputTokens;
  }

  /** Counts an error answer by exception name. */
  error(name: string): void {
    this.#stats.errors[name] = (this.#stats.errors[name] ?? 0) + 1;
    if (name === "ThrottlingException") this.#stats.throttled += 1;
  }

  /** Counts injected faults by kind. */
  faults(kinds: Iterable<string>): void {
    for (const kind of kinds) this.#stats.faultsInjected[kind] = (this.#stats.faultsInjected[kind] ?? 0) + 1;
  }

  /** A copy, so callers can keep it while counting goes on. */
  snapshot(): EmulatorStats {
    return structuredClone(this.#stats);
  }

  reset(): void {
    this.#stats = empty();
  }
}
