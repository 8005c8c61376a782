/**
 * Cohen's kappa between two raters over nominal values: (observed - chance) / (1 - chance),
 * where chance is the agreement expected from each rater's own label frequencies. Values are
 * compared by their JSON form, so null and booleans count as categories. Null when undefined:
 * no pairs, or chance agreement is already 1 (both always gave one and the same value).
 */
export function cohenKappa(a: readonly unknown[], b: readonly unknown[]): number | null {
  const n = a.length;
  if (n === 0) return null;
  const countsA = new Map<string, number>();
  const countsB = new Map<string, number>();
  let same = 0;
  for (let t = 0; t < n; t++) {
    const x = JSON.stringify(a[t]);
    const y = JSON.stringify(b[t]);
    countsA.set(x, (countsA.get(x) ?? 0) + 1);
    countsB.set(y, (countsB.get(y) ?? 0) + 1);
    if (x === y) same += 1;
  }
  const observed = same / n;
  let chance = 0;
  for (const [value, count] of countsA) chance += (count / n) * ((countsB.get(value) ?? 0) / n);
  return chance >= 1 ? null : (observed - chance) / (1 - chance);
}
