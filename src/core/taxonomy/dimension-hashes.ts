import { createHash } from "node:crypto";
import type { Dimension, Taxonomy } from "./taxonomy-schema.ts";

/** A content hash as labelq writes them: `sha256:<64 hex digits>`. */
export type ContentHash = `sha256:${string}`;

// Bumped whenever what goes into a hash changes, so that no cache entry written under the
// old scheme can ever match a hash of the new one.
const DIMENSION_SCHEME = "labelq.dimension.v1";
const TAXONOMY_SCHEME = "labelq.taxonomy.v1";
const CONTEXT_SCHEME = "labelq.prompt-context.v1";

/**
 * One hash per dimension key over everything that defines what its labels mean: a label
 * cache may reuse a text's labels for a dimension only while its hash is unchanged.
 *
 * The input is the parsed dimension, so the file's formatting and key order do not count,
 * defaults count as if written out (`"nullable": false` equals no `nullable`), and keys the
 * schema does not know are gone. Every schema field is hashed (key, code, title, kind,
 * definition, labels, range, anchors, nullable, min/maxItems, examples, edge cases), so a new
 * field is covered without touching this file. Array order and string contents are kept
 * exactly: reordering labels or examples, or re-spacing a sentence, changes the text the
 * model reads, and a needless cache miss is cheap while a wrong hit is not.
 */
export function dimensionHashes(taxonomy: Taxonomy): Record<string, ContentHash> {
  return Object.fromEntries(taxonomy.dimensions.map((d) => [d.key, dimensionHash(d)]));
}

/** Hash of one dimension's meaning; see dimensionHashes. */
export function dimensionHash(dimension: Dimension): ContentHash {
  return sha256(`${DIMENSION_SCHEME}\n${canonicalJson(dimension)}`);
}

/** Hash of the whole taxonomy (name, title, description and the dimensions in order). */
export function taxonomyHash(taxonomy: Taxonomy): ContentHash {
  return sha256(`${TAXONOMY_SCHEME}\n${canonicalJson(taxonomy)}`);
}

/**
 * Hash of what the prompt says outside the dimension definitions: the template text and the
 * taxonomy's name, title and description. Dimension hashes deliberately leave these out, so a
 * cache that reuses labels per dimension must also key on this hash, or a version that only
 * changes the template's rules (v1 -> v2 of product-feedback) would be served v1's labels.
 */
export function promptContextHash(taxonomy: Taxonomy, template: string): ContentHash {
  return sha256(`${CONTEXT_SCHEME}\n${canonicalJson({ name: taxonomy.name, title: taxonomy.title, description: taxonomy.description, template })}`);
}

/** How the dimension hashes of two taxonomies (or two versions of one) compare, by dimension key. */
export interface DimensionHashChanges {
  unchanged: string[];
  changed: string[];
  added: string[];
  removed: string[];
}

/** Compare two sets of dimension hashes; keys keep the order of `before`, then of `after` for added ones. */
export function compareDimensionHashes(before: Record<string, string>, after: Record<string, string>): DimensionHashChanges {
  const result: DimensionHashChanges = { unchanged: [], changed: [], added: [], removed: [] };
  for (const [key, hash] of Object.entries(before)) {
    const next = after[key];
    if (next === undefined) result.removed.push(key);
    else if (next === hash) result.unchanged.push(key);
    else result.changed.push(key);
  }
  for (const key of Object.keys(after)) if (!(key in before)) result.added.push(key);
  return result;
}

/** JSON with object keys sorted at every level and no whitespace; `undefined` members are left out as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== "object" || value === null) return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
  return sorted;
}

function sha256(text: string): ContentHash {
  return `sha256:${createHash("sha256").update(text, "utf8").digest("hex")}`;
}
