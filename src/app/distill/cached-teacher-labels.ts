import { normalizeText } from "../../core/cache/cache-key.ts";
import type { CacheEntry } from "../../core/cache/label-cache.ts";
import { StoreError } from "../../core/errors/errors.ts";
import { labelProblem } from "../eval/gold-set.ts";
import type { TeacherCache } from "./teacher-cache.ts";
import type { RequestText, TeacherCounts, TeacherExample } from "./teacher-labels.ts";

/** What the label cache held for the --texts texts. */
export interface CacheCounts {
  /** The teacher alias and Bedrock model id the keys were computed for. */
  teacher: string;
  modelId: string;
  /** Distinct texts looked up (one per normalised text, as the cache keys them). */
  texts: number;
  /** Texts whose labels were taken from the cache: every dimension under its current definition. */
  found: number;
  /** Cached under an older definition of at least one dimension: not the teacher's answer to this prompt. */
  stale: number;
  /** No entry, or an expired one. */
  missing: number;
  /** Cached labels another model gave (a fallback that answered for the teacher), by model. */
  otherModel: Record<string, number>;
  /** Cached labels that are not a valid answer under the taxonomy. */
  invalidLabels: number;
  /** Found in the cache and in the results too: the results' labels are kept. */
  inResultsToo: number;
}

/**
 * The teacher's cached labels for the texts, one per normalised text (the first met), read in
 * BatchGets through the cache adapter (which leaves out expired entries). A text's labels are
 * taken only when the teacher gave them and every dimension carries the hash of its current
 * definition. A failed read is an error, not a miss: the adapter degrades failures to misses for
 * the worker, but an export would count an outage as missing texts.
 */
export async function cachedTeacherExamples(texts: readonly RequestText[], source: TeacherCache, signal?: AbortSignal): Promise<{ examples: TeacherExample[]; counts: CacheCounts }> {
  const { prompt, teacher } = source;
  const firstByText = new Map<string, RequestText>();
  for (const t of texts) {
    const normalized = normalizeText(t.text);
    if (!firstByText.has(normalized)) firstByText.set(normalized, t);
  }
  const keyByText = new Map([...firstByText.keys()].map((n) => [n, source.keyOf(n)]));
  const errorsBefore = source.cache.stats().errors;
  const entries = await source.cache.getMany([...keyByText.values()], signal);
  if (source.cache.stats().errors > errorsBefore) throw new StoreError("the label cache could not be read (see the warning logged above); nothing was exported");

  const counts: CacheCounts = { teacher: teacher.alias, modelId: teacher.modelId, texts: firstByText.size, found: 0, stale: 0, missing: 0, otherModel: {}, invalidLabels: 0, inResultsToo: 0 };
  const examples: TeacherExample[] = [];
  for (const [normalized, t] of firstByText) {
    const entry = entries.get(keyByText.get(normalized)!);
    const verdict = entry === undefined ? "missing" : judge(entry, source);
    if (verdict === "missing") counts.missing += 1;
    else if (verdict === "stale") counts.stale += 1;
    else if (verdict === "invalid") counts.invalidLabels += 1;
    else if (verdict === "other-model") counts.otherModel[entry!.model] = (counts.otherModel[entry!.model] ?? 0) + 1;
    else {
      counts.found += 1;
      examples.push({
        text: t.text,
        normalized,
        labels: Object.fromEntries(prompt.taxonomy.dimensions.map((d) => [d.key, entry!.labels[d.key]!.v])),
        source: { file: t.file, batchId: t.batchId ?? "", itemId: t.itemId, model: entry!.model, promptVersion: prompt.version, from: "label-cache" },
      });
    }
  }
  return { examples, counts };
}

function judge(entry: CacheEntry, { prompt, teacher }: TeacherCache): "stale" | "invalid" | "other-model" | "ok" {
  if (entry.model !== teacher.modelId) return "other-model";
  const dims = prompt.taxonomy.dimensions;
  // The key leaves the definitions out on purpose (the worker re-asks only changed dimensions):
  // a label under another definition answered another question.
  if (dims.some((d) => entry.labels[d.key]?.h !== prompt.dimensionHashes[d.key])) return "stale";
  if (dims.some((d) => labelProblem(d, entry.labels[d.key]?.v) !== undefined)) return "invalid";
  return "ok";
}

/**
 * The results' examples, then the cached ones for texts the results do not have: for a text in
 * both, the results' labels win (they are what the producer received). Updates the kept count
 * and the per-teacher count, and counts the overlap.
 */
export function mergeCachedExamples(fromResults: readonly TeacherExample[], fromCache: readonly TeacherExample[], counts: TeacherCounts, cacheCounts: CacheCounts): TeacherExample[] {
  const seen = new Set(fromResults.map((x) => x.normalized));
  const merged = [...fromResults];
  for (const x of fromCache) {
    if (seen.has(x.normalized)) {
      cacheCounts.inResultsToo += 1;
      continue;
    }
    merged.push(x);
    counts.teachers[x.source.model] = (counts.teachers[x.source.model] ?? 0) + 1;
  }
  counts.unique = merged.length;
  return merged;
}
