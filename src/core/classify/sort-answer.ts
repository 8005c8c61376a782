import type { ItemErrorCode, ResultItem } from "../contracts/result.ts";
import type { ParsedOutput } from "../models/parse-model-output.ts";
import type { LabelCodec } from "../taxonomy/label-codec.ts";

/** A text that did not get valid labels from one answer, and why. */
export interface ItemProblem {
  id: string;
  code: ItemErrorCode;
  message: string;
}

/** One model answer sorted per text asked. */
export interface SortedAnswer {
  /** Texts whose labels validate, in the order they were asked. */
  labelled: ResultItem[];
  /** Texts answered with labels that fail validation, or answered more than once (INVALID_OUTPUT). */
  invalid: ItemProblem[];
  /** Texts the answer says nothing about (MISSING_FROM_OUTPUT). */
  missing: ItemProblem[];
  /** Output objects without a number that was asked for (dropped). */
  unexpected: number;
}

/**
 * Sort a parsed model answer into labelled, invalid and missing texts. `asked` is the chunk in
 * the order it was sent: text number n (1-based, the "i" of the answer) is `asked[n - 1]`.
 * Pure: no I/O, no clock, the same answer always sorts the same way.
 */
export function sortAnswer(
  asked: readonly { id: string }[],
  parsed: ParsedOutput,
  codec: LabelCodec,
  modelId: string,
): SortedAnswer {
  // A text's answer: the object to decode, or why its line could not be read into one.
  const answers = new Map<number, { rest: unknown } | { problem: string }>();
  const answeredTwice = new Set<number>();
  let unexpected = 0;
  const add = (number: number | undefined, answer: { rest: unknown } | { problem: string }) => {
    if (number === undefined || number < 1 || number > asked.length) {
      unexpected += 1;
    } else if (answers.has(number)) {
      // Two answers for one text: one may be forged by another text (prompt injection). Trust neither.
      answeredTwice.add(number);
    } else {
      answers.set(number, answer);
    }
  };
  const readable = new Set<number | undefined>();
  for (const raw of parsed.items) {
    const { number, rest } = splitNumber(raw);
    readable.add(number);
    add(number, { rest });
  }
  // A line that could not be read counts for its number only when no readable line answers it
  // (a stray "3 of these texts are in German" must not spoil text 3's answer), and once.
  const unreadable = new Map<number, string>();
  for (const { i, problem } of parsed.rejected ?? []) if (!readable.has(i) && !unreadable.has(i)) unreadable.set(i, problem);
  for (const [i, problem] of unreadable) add(i, { problem });

  const sorted: SortedAnswer = { labelled: [], invalid: [], missing: [], unexpected };
  for (const [index, item] of asked.entries()) {
    const number = index + 1;
    if (answeredTwice.has(number)) {
      sorted.invalid.push({ id: item.id, code: "INVALID_OUTPUT", message: "the model answered twice for this text" });
      continue;
    }
    if (!answers.has(number)) {
      const why = parsed.problem ? ` (${parsed.problem})` : "";
      sorted.missing.push({ id: item.id, code: "MISSING_FROM_OUTPUT", message: `no labels for this text in the model's answer${why}` });
      continue;
    }
    const answer = answers.get(number);
    if (answer && "problem" in answer) {
      sorted.invalid.push({ id: item.id, code: "INVALID_OUTPUT", message: `unreadable answer: ${answer.problem}` });
      continue;
    }
    const decoded = codec.decode(answer?.rest);
    if (decoded.ok) {
      sorted.labelled.push({ id: item.id, labels: decoded.labels, source: "model", model: modelId, error: null });
    } else {
      sorted.invalid.push({ id: item.id, code: "INVALID_OUTPUT", message: `invalid labels: ${decoded.issues.join("; ")}` });
    }
  }
  return sorted;
}

/** Take the text number "i" off an output object; accepts 7 or "7". */
function splitNumber(raw: unknown): { number: number | undefined; rest: unknown } {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { number: undefined, rest: raw };
  const { i, ...rest } = raw as Record<string, unknown>;
  const number = typeof i === "number" ? i : typeof i === "string" && /^\d+$/.test(i) ? Number(i) : undefined;
  return { number: number !== undefined && Number.isInteger(number) ? number : undefined, rest };
}
