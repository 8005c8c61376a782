import { screenItems, type UnusableItem } from "../../core/contracts/text-checks.ts";
import { InvalidRequestError } from "../../core/errors/errors.ts";
import type { InputText } from "./read-texts.ts";

/** A file's texts split by the worker's own rule (screenItems): those to send, and those it would answer with an item error. */
export interface ScreenedTexts {
  send: InputText[];
  skipped: UnusableItem[];
}

/**
 * The texts worth sending, by the rule the worker applies (empty, blank, longer than
 * LABELQ_MAX_TEXT_CHARS: an item error, never a model call). `labelq estimate`, `enqueue` and the
 * demo all screen here, so they report the same texts the worker would. Throws when none is left.
 */
export function screenTexts(texts: readonly InputText[], maxTextChars: number, file: string): ScreenedTexts {
  const { usable, unusable } = screenItems(texts, maxTextChars);
  if (usable.length === 0) {
    throw new InvalidRequestError(`${file}: none of its ${texts.length} texts can be labelled (${countByCode(unusable)}): nothing to send`);
  }
  return { send: usable, skipped: unusable };
}

/** One line per text left out, by its id, then the count; nothing when none was. Texts are never quoted. `rest` is what happens to the others ("sending"). */
export function skippedLines(screened: ScreenedTexts, rest: string): string[] {
  if (screened.skipped.length === 0) return [];
  const total = screened.send.length + screened.skipped.length;
  return [
    ...screened.skipped.map((s) => `${s.id}: ${s.problem.code}: ${s.problem.message}`),
    `${screened.skipped.length} of ${total} texts left out (${countByCode(screened.skipped)}); the worker would answer each with that item error; ${rest} the other ${screened.send.length}`,
  ];
}

function countByCode(items: readonly UnusableItem[]): string {
  const counts = new Map<string, number>();
  for (const it of items) counts.set(it.problem.code, (counts.get(it.problem.code) ?? 0) + 1);
  return [...counts].map(([code, n]) => `${code} ${n}`).join(", ");
}
