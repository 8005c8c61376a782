import type { LabelValue } from "../../core/contracts/result.ts";
import type { TokenizerSpec } from "../../core/models/model-catalogue.ts";
import { countTokens } from "../../core/models/token-estimator.ts";
import { compactLabel, lineField, LINES } from "../../core/prompts/output-format.ts";
import { renderUserMessage } from "../../core/prompts/render-prompt.ts";
import type { Taxonomy } from "../../core/taxonomy/taxonomy-schema.ts";
import { TEMPLATE_TOKENS } from "./students.ts";

/** The schema version Bedrock's customization jobs read conversation records by. */
export const SCHEMA_VERSION = "bedrock-conversation-2024";

/** One text block of a turn. */
export interface TextBlock {
  text: string;
}

/**
 * One training record in Bedrock's `bedrock-conversation-2024` format: an optional system turn,
 * then one user turn and one assistant turn (Llama students take single-turn records only).
 */
export interface ConversationRecord {
  schemaVersion: typeof SCHEMA_VERSION;
  system: TextBlock[];
  messages: [{ role: "user"; content: TextBlock[] }, { role: "assistant"; content: TextBlock[] }];
}

/** A text and the teacher's labels for it (full label names, as results carry them). */
export interface LabelledText {
  text: string;
  labels: Record<string, LabelValue>;
}

/**
 * The teacher's answer for some texts in labelq's lines format: one line per text, its number
 * (1..n, in the order of the user turn) and then one field per dimension in taxonomy order, as
 * labelq asks a lines-format model to answer and reads the answer back (parseLineOutput).
 */
export function linesAnswer(taxonomy: Taxonomy, texts: readonly LabelledText[]): string {
  return texts
    .map((t, n) => [String(n + 1), ...taxonomy.dimensions.map((d) => lineField(d, compactLabel(d, t.labels[d.key] ?? null)))].join(LINES.separator))
    .join("\n");
}

/**
 * A training record for some texts: the system prompt labelq sends a lines-format model, the user
 * turn labelq sends for these texts, and the teacher's labels as the answer.
 */
export function conversationRecord(system: string, taxonomy: Taxonomy, texts: readonly LabelledText[]): ConversationRecord {
  return {
    schemaVersion: SCHEMA_VERSION,
    system: [{ text: system }],
    messages: [
      { role: "user", content: [{ text: renderUserMessage(texts.map((t) => t.text), "lines") }] },
      { role: "assistant", content: [{ text: linesAnswer(taxonomy, texts) }] },
    ],
  };
}

/** Input plus output tokens of a record as the student counts them, the chat template's own tokens included. */
export function recordTokens(record: ConversationRecord, tokenizer: TokenizerSpec): number {
  const turns = [...record.system, ...record.messages.flatMap((m) => m.content)];
  return turns.reduce((n, block) => n + countTokens(block.text, tokenizer), TEMPLATE_TOKENS);
}

/** What became of a group of texts put into records under a token limit. */
export interface FittedRecords<T extends LabelledText> {
  records: { record: ConversationRecord; texts: T[]; tokens: number }[];
  /** Records cut in two because they were over the limit. */
  splits: number;
  /** Texts whose record was over the limit with that text alone in it. */
  dropped: T[];
}

/**
 * Records for a group of texts, each within `maxTokens`: a record over the limit is cut in two
 * halves, again and again; a single text still over it is dropped (a shorter record would not be
 * the one labelq sends).
 */
export function fitRecords<T extends LabelledText>(system: string, taxonomy: Taxonomy, texts: readonly T[], tokenizer: TokenizerSpec, maxTokens: number): FittedRecords<T> {
  const out: FittedRecords<T> = { records: [], splits: 0, dropped: [] };
  const place = (group: readonly T[]) => {
    const record = conversationRecord(system, taxonomy, group);
    const tokens = recordTokens(record, tokenizer);
    if (tokens <= maxTokens) {
      out.records.push({ record, texts: [...group], tokens });
    } else if (group.length === 1) {
      out.dropped.push(group[0]!);
    } else {
      out.splits += 1;
      const half = Math.ceil(group.length / 2);
      place(group.slice(0, half));
      place(group.slice(half));
    }
  };
  if (texts.length > 0) place(texts);
  return out;
}
