import { readSignals, type TextSignals } from "./heuristics.ts";
import type { InputText, OutputKey } from "./prompt-format.ts";
import { hashUnit } from "./random.ts";

/** A value the simulated classifier writes for one key. */
export type LabelValue = string | number | string[] | null;

/** One answer object: `i` plus one value per output key code. */
export interface LabelItem {
  [code: string]: LabelValue;
  i: number;
}

type Role = "sentiment" | "sarcasm" | "spam" | "language" | "other";

// Heuristics are chosen by the dimension's full name, so any taxonomy rendered in the
// grammar works; unknown names fall back to plain hashing.
function roleOf(name: string): Role {
  if (/sentiment|polarity/.test(name)) return "sentiment";
  if (/sarcas|iron/.test(name)) return "sarcasm";
  if (/spam/.test(name)) return "spam";
  if (/^lang/.test(name)) return "language";
  return "other";
}

function pick<T>(list: readonly T[], u: number): T | undefined {
  return list[Math.floor(u * list.length)];
}

function single(labels: string[], role: Role, s: TextSignals, u: (salt: string) => number): string | null {
  const byPrefix = (...prefixes: string[]) => labels.find((l) => prefixes.some((p) => l.startsWith(p)));
  const fallback = pick(labels, u("pick")) ?? null;
  if (role === "sentiment") {
    // Position is the fallback when the codes don't say which label is which.
    if (s.polarity === "positive") return byPrefix("pos", "good") ?? labels[0] ?? null;
    if (s.polarity === "negative") return byPrefix("neg", "bad") ?? labels[1] ?? fallback;
    if (s.polarity === "mixed") return byPrefix("mix") ?? fallback;
    const neutral = byPrefix("neu");
    return neutral !== undefined && u("neutral") < 0.7 ? neutral : fallback;
  }
  if (role === "language") {
    if (s.language !== undefined && labels.includes(s.language)) return s.language;
    return byPrefix("oth", "und", "xx", "zz") ?? fallback;
  }
  return fallback;
}

function multi(labels: string[], min: number, max: number, u: (salt: string) => number): string[] {
  const cap = Math.min(max, labels.length);
  const lo = Math.min(min, cap);
  const n = lo + Math.floor(u("count") * (cap - lo + 1));
  const chosen = new Set([...labels].sort((a, b) => u(`item:${a}`) - u(`item:${b}`)).slice(0, n));
  // Allowed-list order, as a model copying the list would write them.
  return labels.filter((l) => chosen.has(l));
}

function scale(min: number, max: number, nullable: boolean, role: Role, s: TextSignals, u: (salt: string) => number): number | null {
  const near = (edge: number, step: number) => Math.min(max, Math.max(min, edge + (u("near") < 0.3 ? step : 0)));
  if (role === "sarcasm" && s.sarcastic) return max;
  if (role === "spam" && s.spammy) return near(max, -1);
  if (nullable && u("null") < 0.1) return null;
  if (role === "sentiment" && s.polarity === "positive") return near(max, -1);
  if (role === "sentiment" && s.polarity === "negative") return near(min, 1);
  if (role === "sarcasm" || role === "spam") return near(min, 1);
  // Mean of two draws: middle values are more common than extremes.
  return Math.round(min + ((u("a") + u("b")) / 2) * (max - min));
}

function boolean(nullable: boolean, role: Role, s: TextSignals, u: (salt: string) => number): number | null {
  if (role === "sarcasm" && s.sarcastic) return 1;
  if (role === "spam" && s.spammy) return 1;
  if (nullable && u("null") < 0.1) return null;
  const rate = role === "sarcasm" ? 0.03 : role === "spam" ? 0.02 : 0.25;
  return u("yes") < rate ? 1 : 0;
}

/** The simulated classifier's value for one key of one text: allowed by the key's grammar, fixed by seed + text + key. */
export function classifyValue(key: OutputKey, text: string, signals: TextSignals, seed: number): LabelValue {
  const u = (salt: string) => hashUnit(seed, text, key.code, key.name, salt);
  const role = roleOf(key.name);
  switch (key.kind) {
    case "single":
      return single(key.labels, role, signals, u);
    case "multi":
      return multi(key.labels, key.min, key.max, u);
    case "scale":
      return scale(key.min, key.max, key.nullable, role, signals, u);
    case "boolean":
      return boolean(key.nullable, role, signals, u);
    case "unknown":
      return null;
  }
}

/** Labels every text for every key, deterministically. */
export function classify(texts: InputText[], keys: OutputKey[], seed: number): LabelItem[] {
  return texts.map(({ i, t }) => {
    const signals = readSignals(t);
    const item: LabelItem = { i };
    for (const key of keys) item[key.code] = classifyValue(key, t, signals, seed);
    return item;
  });
}
