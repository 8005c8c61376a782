import { createHash } from "node:crypto";

/**
 * Normalise a text for caching: Unicode NFC, trimmed, inner whitespace collapsed. Case and
 * punctuation are kept: "GREAT!!!" and "great" may rightly get different labels.
 */
export function normalizeText(text: string): string {
  return text.normalize("NFC").trim().replace(/\s+/g, " ");
}

/**
 * The cache key of a text: its normalised content plus everything else that decides the
 * labels (taxonomy, prompt context = template and taxonomy description, model, answer format,
 * inference parameters) except the dimension definitions, which are checked per dimension on read so
 * that a new version that changes only some definitions reuses the rest.
 */
export function cacheKey(
  text: string,
  scope: { taxonomy: string; context: string; modelId: string; format: string; inference: { temperature?: number; topP?: number } },
): string {
  const h = createHash("sha256");
  // JSON, the format every key had before formats existed, adds nothing: its cached labels stay valid.
  const format = scope.format === "json" ? [] : [scope.format];
  h.update(JSON.stringify([normalizeText(text), scope.taxonomy, scope.context, scope.modelId, ...format, scope.inference.temperature, scope.inference.topP]));
  return h.digest("base64url");
}
