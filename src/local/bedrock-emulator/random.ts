import { createHash } from "node:crypto";

/** A number in [0, 1) fixed by the seed and the parts: the same inputs always give the same number. */
export function hashUnit(seed: number, ...parts: string[]): number {
  // NUL separators keep ("ab","c") and ("a","bc") apart.
  const digest = createHash("sha256").update([String(seed), ...parts].join("\u0000")).digest();
  // 48 bits fit a double exactly.
  return digest.readUIntBE(0, 6) / 2 ** 48;
}
