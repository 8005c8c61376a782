/**
 * The check a model customization job makes of its training (and validation) file before it
 * trains: every line a bedrock-conversation-2024 record (schemaVersion, optional system, then
 * user / assistant turns alternating, starting with user and ending with assistant, each with text
 * content). Format: "Prepare your training datasets for fine-tuning"
 * (https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html) and
 * distillation's "Option 2" prompt-response pairs
 * (https://docs.aws.amazon.com/bedrock/latest/userguide/distillation-data-prep-option-2.html). The
 * service's failure message wording is not documented: the emulator names the file, line and rule.
 */

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const isTextBlocks = (v: unknown): boolean => Array.isArray(v) && v.length > 0 && v.every((b) => isObject(b) && typeof b.text === "string" && b.text.length > 0);

/** Why one record does not match bedrock-conversation-2024, or undefined. */
export function recordProblem(line: string): string | undefined {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return "not valid JSON";
  }
  if (!isObject(record)) return "not a JSON object";
  if (record.schemaVersion !== "bedrock-conversation-2024") return `schemaVersion must be "bedrock-conversation-2024"`;
  if (record.system !== undefined && !isTextBlocks(record.system)) return "system must be a list of {text} blocks";
  const messages = record.messages;
  if (!Array.isArray(messages) || messages.length < 2) return "messages must hold at least a user and an assistant turn";
  for (const [i, m] of messages.entries()) {
    const expected = i % 2 === 0 ? "user" : "assistant";
    if (!isObject(m) || m.role !== expected) return `messages[${i}].role must be "${expected}" (turns alternate, starting with user)`;
    if (!isTextBlocks(m.content)) return `messages[${i}].content must be a list of {text} blocks`;
  }
  if (messages.length % 2 !== 0) return "the last turn must be the assistant's";
  return undefined;
}

/** Why a training or validation file can't be trained on (its first bad line), or undefined; `records` counts its lines. */
export function checkTrainingFile(uri: string, text: string): { problem?: string; records: number } {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  if (lines.length === 0) return { problem: `The file ${uri} holds no records.`, records: 0 };
  for (const [i, line] of lines.entries()) {
    const problem = recordProblem(line);
    if (problem !== undefined) return { problem: `Data validation failed for ${uri}: line ${i + 1} is not a bedrock-conversation-2024 record: ${problem}.`, records: lines.length };
  }
  return { records: lines.length };
}
