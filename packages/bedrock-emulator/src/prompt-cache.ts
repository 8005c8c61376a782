/** Bedrock's default cache point lives 5 minutes, counted again from every hit. */
export const PROMPT_CACHE_TTL_MS = 5 * 60_000;

/** Simulated prompt cache: which prefixes (per model) were written, and until when they live. */
export class PromptCache {
  readonly #expiresAt = new Map<string, number>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** True when the prefix is cached now; looking does not refresh it, so a refused call changes nothing. */
  has(key: string): boolean {
    const expiresAt = this.#expiresAt.get(key);
    if (expiresAt === undefined) return false;
    if (expiresAt > this.#now()) return true;
    this.#expiresAt.delete(key);
    return false;
  }

  /** Writes the prefix, or refreshes its lifetime after a hit. */
  touch(key: string): void {
    this.#expiresAt.set(key, this.#now() + PROMPT_CACHE_TTL_MS);
  }

  clear(): void {
    this.#expiresAt.clear();
  }
}
