import type { LabelItem, LabelValue } from "./classifier.ts";
import type { InputText, OutputKey } from "./prompt-format.ts";
import { hashUnit } from "./random.ts";

/**
 * A controllable error model, for testing label evaluation (`labelq eval`): the simulated
 * classifier's answers are taken as right, and these settings make them wrong at known rates.
 * Each decision is fixed by the seed, the text and the dimension, so the same text always gets
 * the same error: an evaluation against the clean answers measures the rate that was set.
 */
export interface LabelErrorOptions {
  /**
   * Chance per text and dimension that a choice is replaced by a different allowed one: single
   * choice gets another label (each equally likely), yes/no is negated (null stays), multi
   * choice has one label added or removed (when its count allows). One number for every
   * dimension, or one per dimension key.
   */
  flip?: number | Record<string, number>;
  /** Chance per text and scale dimension that the value moves one step (inward at either end); null stays null. */
  drift?: number | Record<string, number>;
}

/** The answers with the error model applied; items not chosen are returned unchanged. */
export function applyLabelErrors(items: readonly LabelItem[], texts: readonly InputText[], keys: readonly OutputKey[], options: LabelErrorOptions, seed: number): LabelItem[] {
  const textOf = new Map(texts.map((t) => [t.i, t.t]));
  return items.map((item) => {
    const text = textOf.get(item.i);
    if (text === undefined) return item;
    const out: LabelItem = { ...item };
    for (const key of keys) {
      const u = (salt: string) => hashUnit(seed, "label-error", text, key.code, salt);
      const value = item[key.code];
      if (value === undefined) continue;
      if (key.kind === "scale") {
        if (typeof value === "number" && u("drift") < rate(options.drift, key.name)) out[key.code] = drift(value, key.min, key.max, u("direction"));
      } else if (key.kind !== "unknown" && u("flip") < rate(options.flip, key.name)) {
        out[key.code] = flip(key, value, u("to"));
      }
    }
    return out;
  });
}

function rate(setting: number | Record<string, number> | undefined, name: string): number {
  if (setting === undefined) return 0;
  return typeof setting === "number" ? setting : (setting[name] ?? 0);
}

function drift(value: number, min: number, max: number, u: number): number {
  if (value <= min) return Math.min(max, value + 1);
  if (value >= max) return Math.max(min, value - 1);
  return u < 0.5 ? value - 1 : value + 1;
}

function flip(key: Exclude<OutputKey, { kind: "scale" | "unknown" }>, value: LabelValue, u: number): LabelValue {
  switch (key.kind) {
    case "single": {
      const others = key.labels.filter((l) => l !== value);
      return others[Math.floor(u * others.length)] ?? value;
    }
    case "boolean":
      return value === 1 ? 0 : value === 0 ? 1 : value;
    case "multi": {
      // Add or remove one label, in the allowed-list order; left alone when the count would leave min..max.
      const current = Array.isArray(value) ? value : [];
      const label = key.labels[Math.floor(u * key.labels.length)]!;
      const has = current.includes(label);
      if (has ? current.length <= key.min : current.length >= key.max) return current;
      return key.labels.filter((l) => (l === label ? !has : current.includes(l)));
    }
  }
}
