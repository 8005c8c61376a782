import { classify, type LabelItem, type LabelValue } from "./classifier.ts";
import type { OutputKey } from "./prompt-format.ts";

// Faults that change which items, or which values, the answer holds. They run before the
// answer is serialised, so they work for text and tool-use answers alike.

/** About a fifth of n, at least one (n > 0). */
function fifth(n: number): number {
  return Math.max(1, Math.round(n * 0.2));
}

/** k distinct indexes below n, chosen by the PRNG. */
function chooseIndexes(n: number, k: number, random: () => number): Set<number> {
  const order = Array.from({ length: n }, (_, i) => ({ i, r: random() })).sort((a, b) => a.r - b.r);
  return new Set(order.slice(0, k).map((o) => o.i));
}

/** Drops about 20% of the items (at least one); undefined when there is nothing to drop. */
export function dropItems(items: LabelItem[], random: () => number): LabelItem[] | undefined {
  if (items.length === 0) return undefined;
  const drop = chooseIndexes(items.length, fifth(items.length), random);
  return items.filter((_, index) => !drop.has(index));
}

/** Adds answers for ids nobody asked for: max + 1 and 999 (or max + 2 when 999 was asked). */
export function addItems(items: LabelItem[], askedIds: number[], keys: OutputKey[], seed: number): LabelItem[] {
  const max = Math.max(0, ...askedIds);
  const extraIds = [max + 1, askedIds.includes(999) || max + 1 === 999 ? max + 2 : 999];
  const extra = classify(extraIds.map((i) => ({ i, t: `(text ${i})` })), keys, seed);
  return [...items, ...extra];
}

function invalidValue(key: OutputKey, current: LabelValue, random: () => number): LabelValue | undefined {
  switch (key.kind) {
    case "single":
    case "multi": {
      const unknown = ["zzz", "xq9", "unk", "oth9"].find((c) => !key.labels.includes(c)) ?? `${key.labels.join("")}x`;
      if (key.kind === "single") return unknown;
      return [...(Array.isArray(current) ? current : []), unknown];
    }
    case "scale":
      return random() < 0.5 ? key.max + 1 + Math.floor(random() * 3) : key.min - 1;
    case "boolean":
      // A string where 0/1 is asked for: a classic model slip.
      return random() < 0.5 ? "yes" : "true";
    case "unknown":
      return undefined;
  }
}

/** Puts an out-of-grammar value in one key of about 20% of the items; undefined when nothing could be damaged. */
export function corruptItems(items: LabelItem[], keys: OutputKey[], random: () => number): LabelItem[] | undefined {
  const damageable = keys.filter((k) => k.kind !== "unknown");
  if (items.length === 0 || damageable.length === 0) return undefined;
  const chosen = chooseIndexes(items.length, fifth(items.length), random);
  return items.map((item, index) => {
    if (!chosen.has(index)) return item;
    const key = damageable[Math.floor(random() * damageable.length)];
    if (key === undefined) return item;
    const bad = invalidValue(key, item[key.code] ?? null, random);
    return bad === undefined ? item : { ...item, [key.code]: bad };
  });
}
