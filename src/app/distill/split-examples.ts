import { createHash } from "node:crypto";

/** The three parts a set of texts is split into: trained on, validated on during training, and kept out of both for evaluation. */
export const SPLITS = ["train", "validation", "heldout"] as const;
export type SplitName = (typeof SPLITS)[number];

export interface SplitShares {
  /** Share of texts for the validation file. */
  validation: number;
  /** Share of texts kept out of training and validation, for `labelq eval`. */
  heldout: number;
  seed: number;
}

/**
 * A number in [0, 1) drawn from the seed and a text's normalised form alone. A text's split does
 * not depend on which other texts are exported nor on their order, so exporting again with more
 * results keeps every text where it was: a held-out text never moves into training.
 */
export function splitPoint(seed: number, normalized: string): number {
  const digest = createHash("sha256").update(`${seed}\u0000${normalized}`).digest();
  // 48 bits: exact in a double, and far more than any share needs.
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/** Which split a text falls in: [0, heldout) held out, then [heldout, heldout + validation) validation, the rest training. */
export function splitOf(point: number, shares: Pick<SplitShares, "validation" | "heldout">): SplitName {
  if (point < shares.heldout) return "heldout";
  if (point < shares.heldout + shares.validation) return "validation";
  return "train";
}

/**
 * Split items by their normalised text, deterministically for a seed. Within each split, items
 * come in the order of their split point: a seeded shuffle, so a record groups texts from
 * different batches and a cut at the record limit keeps a random subset.
 */
export function splitExamples<T extends { normalized: string }>(items: readonly T[], shares: SplitShares): Record<SplitName, T[]> {
  const drawn = items.map((item) => ({ item, point: splitPoint(shares.seed, item.normalized) }));
  drawn.sort((a, b) => a.point - b.point || (a.item.normalized < b.item.normalized ? -1 : a.item.normalized > b.item.normalized ? 1 : 0));
  const out: Record<SplitName, T[]> = { train: [], validation: [], heldout: [] };
  for (const { item, point } of drawn) out[splitOf(point, shares)].push(item);
  return out;
}
