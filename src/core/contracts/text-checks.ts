/**
 * Texts the worker never sends to the model: each gets an item error in the result and the rest
 * of its batch is labelled. The producer commands (`labelq estimate`, `enqueue`, the demo) check
 * texts with the same function before sending, so what they report is what the worker would do.
 */
export const textErrorCodes = ["TEXT_EMPTY", "TEXT_TOO_LONG", "TEXT_INVALID"] as const;
export type TextErrorCode = (typeof textErrorCodes)[number];

export interface TextProblem {
  code: TextErrorCode;
  /** Says what is wrong and never quotes the text (texts are user data). */
  message: string;
}

// Whitespace, control and format characters (zero-width space, byte-order mark...): nothing to label.
const BLANK = /^[\s\p{Cc}\p{Cf}]*$/u;

/** Why a text cannot be labelled, or undefined when it can. Length is counted in UTF-16 code units, as the limit always was. */
export function textProblem(text: string, maxTextChars: number): TextProblem | undefined {
  if (text.length === 0) return { code: "TEXT_EMPTY", message: "the text is empty" };
  if (text.length > maxTextChars) {
    return { code: "TEXT_TOO_LONG", message: `the text is ${text.length} characters; the limit is ${maxTextChars} (LABELQ_MAX_TEXT_CHARS)` };
  }
  if (BLANK.test(text)) return { code: "TEXT_EMPTY", message: "the text is blank (only spaces, line breaks or invisible characters)" };
  // A lone surrogate half cannot be encoded as UTF-8: the model would read a replacement character.
  if (!text.isWellFormed()) return { code: "TEXT_INVALID", message: "the text has a broken character (an unpaired UTF-16 surrogate) and cannot be sent as UTF-8" };
  return undefined;
}

/** An item the worker will not send to the model, and why. */
export interface UnusableItem {
  id: string;
  problem: TextProblem;
}

/** Split items into those the model is asked about and those that get an item error instead (input order kept in both). */
export function screenItems<T extends { id: string; text: string }>(items: readonly T[], maxTextChars: number): { usable: T[]; unusable: UnusableItem[] } {
  const usable: T[] = [];
  const unusable: UnusableItem[] = [];
  for (const item of items) {
    const problem = textProblem(item.text, maxTextChars);
    if (problem) unusable.push({ id: item.id, problem });
    else usable.push(item);
  }
  return { usable, unusable };
}
