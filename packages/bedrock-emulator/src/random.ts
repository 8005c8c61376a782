import { createHash } from "node:crypto";

/** Seeded PRNG (mulberry32) returning numbers in [0, 1): the same seed always gives the same sequence. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}


/** A number in [0, 1) fixed by the seed and the parts: the same inputs always give the same number. */
export function hashUnit(seed: number, ...parts: string[]): number {
  // NUL separators keep ("ab","c") and ("a","bc") apart.
  const digest = createHash("sha256").update([String(seed), ...parts].join("\u0000")).digest();
  // 48 bits fit a double exactly.
  return digest.readUIntBE(0, 6) / 2 ** 48;
}
