/**
 * Cohen's kappa with quadratic weights on an ordinal scale min..max: 1 is perfect agreement,
 * 0 is what chance gives with the same label frequencies, and a near miss costs less than a far
 * one (a disagreement of d steps weighs d² / (max - min)²). Null when it is undefined: no pairs,
 * or both sides always gave one and the same value (chance alone would then agree perfectly).
 */
export function quadraticWeightedKappa(a: readonly number[], b: readonly number[], min: number, max: number): number | null {
  const n = a.length;
  const k = max - min + 1;
  if (n === 0 || k < 2) return null;
  const histA = new Array<number>(k).fill(0);
  const histB = new Array<number>(k).fill(0);
  let observed = 0;
  for (let t = 0; t < n; t++) {
    const i = a[t]! - min;
    const j = b[t]! - min;
    histA[i]! += 1;
    histB[j]! += 1;
    observed += weight(i, j, k);
  }
  let expected = 0;
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) expected += (weight(i, j, k) * histA[i]! * histB[j]!) / n;
  return expected === 0 ? null : 1 - observed / expected;
}

function weight(i: number, j: number, k: number): number {
  return ((i - j) * (i - j)) / ((k - 1) * (k - 1));
}

/** Mean of |a - b|, in scale steps; null for no pairs. */
export function meanAbsoluteError(a: readonly number[], b: readonly number[]): number | null {
  if (a.length === 0) return null;
  return a.reduce((s, x, t) => s + Math.abs(x - b[t]!), 0) / a.length;
}
