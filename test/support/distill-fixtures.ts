import type { LabelResult, LabelValue } from "../../src/core/contracts/result.ts";
import type { ResolvedPrompt } from "../../src/core/prompts/prompt-registry.ts";
import { validCompactLabels } from "./fakes.ts";

/** A text and the teacher's labels for it (decoded to names, as results carry them). */
export interface TeacherItem {
  id: string;
  text: string;
  labels: Record<string, LabelValue>;
}

/** Labels for a text, chosen from the text as the fake model chooses them, decoded to names. */
export function teacherLabels(prompt: ResolvedPrompt, text: string): Record<string, LabelValue> {
  const decoded = prompt.codec.decode(validCompactLabels(prompt.taxonomy, text));
  if (!decoded.ok) throw new Error(decoded.issues.join("; "));
  return decoded.labels;
}

/** `n` distinct texts with ids `r-1`... and the teacher's labels for each. */
export function teacherItems(prompt: ResolvedPrompt, n: number, text: (k: number) => string = (k) => `review number ${k}: the colour is fine, the battery is not`): TeacherItem[] {
  return Array.from({ length: n }, (_, k) => {
    const t = text(k + 1);
    return { id: `r-${k + 1}`, text: t, labels: teacherLabels(prompt, t) };
  });
}

/** A result message of batch `batchId` for the items, as the worker publishes it and `labelq collect` writes it. */
export function resultMessage(
  batchId: string,
  items: readonly (Pick<TeacherItem, "id"> & { labels: Record<string, LabelValue> | null })[],
  options: { taxonomy?: string; promptVersion?: string; model?: string } = {},
): LabelResult {
  return {
    schemaVersion: 1,
    batchId,
    status: items.every((i) => i.labels) ? "completed" : "partial",
    taxonomy: options.taxonomy ?? "product-feedback",
    promptVersion: options.promptVersion ?? "v2",
    promptHash: `sha256:${"0".repeat(64)}`,
    model: "llama3.3-70b",
    items: items.map((i) => ({
      id: i.id,
      labels: i.labels,
      source: i.labels ? "model" : null,
      model: i.labels ? (options.model ?? "us.meta.llama3-3-70b-instruct-v1:0") : null,
      error: i.labels ? null : { code: "INVALID_OUTPUT", message: "no valid answer" },
    })),
    usage: { modelCalls: 1, inputTokens: 1, outputTokens: 1, cacheReadInputTokens: 0, cacheWriteInputTokens: 0, reservedTokens: 0, cacheHits: 0, costUsd: 0 },
    timing: { receivedAt: "2026-11-30T05:00:00.000Z", completedAt: "2026-11-30T05:00:01.000Z", durationMs: 1000 },
    attributes: {},
  };
}

/** JSONL of some values, one per line. */
export function jsonl(values: readonly unknown[]): string {
  return values.map((v) => JSON.stringify(v)).join("\n") + "\n";
}
