import { AWS_ERRORS } from "../aws-errors.ts";
import type { BedrockModel } from "../bedrock-models.ts";
import { converseResponseBody, simulateModel } from "../converse-handler.ts";
import { isAwsError, parseConverseBody } from "../converse-request.ts";
import type { LabelErrorOptions } from "../label-errors.ts";
import { refuseForModel } from "../model-rules.ts";
import type { LenientRule } from "../strictness.ts";
import { sumTokens, type TokenCounting } from "../tokens.ts";
import type { InputRecord } from "./input-records.ts";

/**
 * Answering a batch record: the same simulated model and the same per-model rules as the
 * Converse route, without its on-demand quota, prompt cache or latency (batch does not use the
 * on-demand quota). A record Bedrock would refuse gets an error line, not a failed job (docs:
 * batch-inference-results, "An error object replaces the modelOutput field in any line where
 * there was an error in inference").
 */

/** One line of an output file: modelOutput (the Converse response body) or error. */
export interface OutputLine {
  recordId: string;
  modelInput: Record<string, unknown>;
  modelOutput?: unknown;
  error?: { errorCode: number; errorMessage: string };
}

export interface RecordOutcome {
  line: OutputLine;
  inputTokens: number;
  outputTokens: number;
}

export interface RecordContext {
  model: BedrockModel;
  seed: number;
  lenient: ReadonlySet<LenientRule>;
  labelErrors: LabelErrorOptions;
  random: () => number;
}

// docs: batch-inference ("Batch inference doesn't support tool calling (function calling) for jobs
// that use the Converse invocation type. Records that include toolConfig fail with a 400 error.").
const NO_TOOLS = "Tool use (toolConfig) isn't supported in batch inference jobs that use the Converse invocation type.";
const INJECTED = "The model encountered an error while processing this record. (injected by the emulator)";

const errorLine = (record: InputRecord, errorCode: number, errorMessage: string): RecordOutcome => ({
  line: { recordId: record.recordId, modelInput: record.modelInput, error: { errorCode, errorMessage } },
  inputTokens: 0,
  outputTokens: 0,
});

/** Answers one record, or gives the error line Bedrock would write for it. injectError: the recordErrorRate fault chose it. */
export function answerRecord(record: InputRecord, ctx: RecordContext, injectError = false): RecordOutcome {
  if (injectError) return errorLine(record, 500, INJECTED);
  const input = parseConverseBody(JSON.stringify(record.modelInput));
  if (isAwsError(input)) return errorLine(record, AWS_ERRORS[input.name], input.message);
  if (input.tools !== undefined) return errorLine(record, 400, NO_TOOLS);
  const counting: TokenCounting = ctx.lenient.has("tokenizer") ? "chars" : ctx.model.tokenizer;
  const inputTokens = sumTokens(input.inputTexts, counting);
  const refusal = refuseForModel(ctx.model, input, ctx.lenient, inputTokens);
  if (refusal !== undefined) return errorLine(record, AWS_ERRORS[refusal.name], refusal.message);
  const { answer } = simulateModel(input, ctx.model, { seed: ctx.seed, faults: [], random: ctx.random, counting, labelErrors: ctx.labelErrors });
  return {
    line: { recordId: record.recordId, modelInput: record.modelInput, modelOutput: converseResponseBody(answer, inputTokens, inputTokens, 0) },
    inputTokens,
    outputTokens: answer.outputTokens,
  };
}

/** Output damage for one file (faults malformedLines and missingRecords). */
export interface OutputDamage {
  malformedLines: number;
  missingRecords: number;
}

/**
 * The text of an output file: one JSON line per record, in an order unrelated to the input's
 * (docs: batch-inference-data, "The order of records in the output JSONL file is not guaranteed
 * to match the order of records in the input JSONL file"), shuffled with the job's seeded PRNG.
 */
export function renderOutputFile(lines: readonly OutputLine[], random: () => number, damage: OutputDamage = { malformedLines: 0, missingRecords: 0 }): string {
  const order = [...lines];
  for (let k = order.length - 1; k > 0; k--) {
    const j = Math.floor(random() * (k + 1));
    [order[k], order[j]] = [order[j] as OutputLine, order[k] as OutputLine];
  }
  const kept = order.slice(0, Math.max(0, order.length - damage.missingRecords));
  const text = kept.map((line, k) => {
    const json = JSON.stringify(line);
    // A line cut in the middle of its JSON, as a partly written file would have it.
    return k < damage.malformedLines ? json.slice(0, Math.floor(json.length * 0.6)) : json;
  });
  return text.length === 0 ? "" : `${text.join("\n")}\n`;
}

/** manifest.json.out (docs: batch-inference-results). */
export interface Manifest {
  totalRecordCount: number;
  processedRecordCount: number;
  successRecordCount: number;
  errorRecordCount: number;
  inputTokenCount: number;
  outputTokenCount: number;
}
