import type { LabelValue } from "../contracts/result.ts";

/** One shadowed batch: the labels the alias's version and its shadow version gave the same texts. */
export interface ShadowComparison {
  taxonomy: string;
  alias: string;
  baseline: string;
  shadow: string;
  /** Per dimension key, one [baseline, shadow] pair per text both versions labelled. */
  pairs: Record<string, [LabelValue, LabelValue][]>;
}

/** Where shadow comparisons are summed for `labelq eval canary` (DynamoDB in production). */
export interface ShadowRecorder {
  record(comparison: ShadowComparison): Promise<void>;
}
