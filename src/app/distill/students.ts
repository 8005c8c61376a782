import type { TokenizerSpec } from "../../core/models/model-catalogue.ts";
import { findModel } from "../../core/models/model-registry.ts";

/** The student families a training set can be exported for. */
export const STUDENTS = ["llama3", "nova"] as const;
export type StudentName = (typeof STUDENTS)[number];

/** What the training set is for: a fine-tuning job, or a distillation job given these prompt-response pairs. */
export const JOBS = ["fine-tuning", "distillation"] as const;
export type JobKind = (typeof JOBS)[number];

/** The limits a customization job puts on a training set, and where AWS says so. */
export interface StudentLimits {
  student: StudentName;
  job: JobKind;
  /** Models the profile stands for. */
  models: string;
  /** Counts the student's tokens (Llama 3's tokenizer; Nova's approximated from it, as the model catalogue does). */
  tokenizer: TokenizerSpec;
  /** Training plus validation records, at most. */
  maxRecords: number;
  /** Fewer records than this and the job is refused. */
  minRecords: number;
  /** Input plus output tokens of one record, at most. */
  maxRecordTokens: number;
  /** Bytes of the training file and of the validation file, at most. */
  maxTrainingFileBytes: number;
  maxValidationFileBytes: number;
  /** Words that fail the job wherever they appear in a system or user turn (case ignored). */
  reservedWords: readonly string[];
  /** The AWS pages each limit comes from. */
  sources: readonly string[];
}

const LLAMA_REQUIREMENTS = "https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-prepare.html";
const NOVA_PREPARE = "https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html";
const NOVA_VALIDATOR = "https://github.com/aws-samples/amazon-nova-samples/tree/main/customization/bedrock-finetuning/understanding/dataset_validation";
const DISTILLATION_PAIRS = "https://docs.aws.amazon.com/bedrock/latest/userguide/distillation-data-prep-option-2.html";

// Bedrock's "Model requirements for training and validation datasets" for the text models: a 1 GB
// training file and a 100 MB validation file (the Llama 3.x table gives tokens and records only;
// labelq holds every student to these sizes).
const MAX_TRAINING_FILE_BYTES = 1_000_000_000;
const MAX_VALIDATION_FILE_BYTES = 100_000_000;

// Llama 3.1 / 3.2 fine-tuning: input + output tokens <= 16,000 per record; training + validation
// records 100 to 10,000 (the maximum adjustable through Service Quotas).
const LLAMA_MAX_RECORD_TOKENS = 16_000;

// Chat-template tokens around the turns (begin/end of text, a role header per turn): a record
// holds a few more tokens than its three texts. 16 covers Llama 3's template with room to spare.
export const TEMPLATE_TOKENS = 16;

/** The limits of a student and job; `overrides` from flags replace the defaults. */
export function studentLimits(student: StudentName, job: JobKind, overrides: { maxRecords?: number; maxRecordTokens?: number } = {}): StudentLimits {
  const base: StudentLimits =
    student === "llama3"
      ? {
          student,
          job,
          models: "Meta Llama 3.1 8B Instruct, Llama 3.2 1B / 3B Instruct",
          tokenizer: { kind: "llama3" },
          maxRecords: 10_000,
          minRecords: 100,
          maxRecordTokens: LLAMA_MAX_RECORD_TOKENS,
          maxTrainingFileBytes: MAX_TRAINING_FILE_BYTES,
          maxValidationFileBytes: MAX_VALIDATION_FILE_BYTES,
          reservedWords: [],
          sources: [LLAMA_REQUIREMENTS],
        }
      : {
          student,
          job,
          models: "Amazon Nova Micro, Nova Lite",
          // The catalogue's Nova entry: Llama 3's count times its factor, erring high.
          tokenizer: findModel("nova-micro")?.tokenizer ?? { kind: "approximate", basis: "llama3", factor: 1.2 },
          // 8 to 20,000 samples (Nova's dataset validator). The Nova page read gives no per-record
          // token limit: labelq holds Nova records to the Llama figure, the smaller one it has a source for.
          maxRecords: 20_000,
          minRecords: 8,
          maxRecordTokens: LLAMA_MAX_RECORD_TOKENS,
          maxTrainingFileBytes: MAX_TRAINING_FILE_BYTES,
          maxValidationFileBytes: MAX_VALIDATION_FILE_BYTES,
          // "User:", "Bot:", "Assistant:", "System:", "<image>", "<video>" and "[EOS]" are reserved:
          // a prompt that holds one anywhere fails the training job.
          reservedWords: ["User:", "Bot:", "Assistant:", "System:", "<image>", "<video>", "[EOS]"],
          sources: [NOVA_PREPARE, NOVA_VALIDATOR, LLAMA_REQUIREMENTS],
        };
  // A distillation job takes at most 15,000 prompts or prompt-response pairs.
  const limits = job === "distillation" ? { ...base, maxRecords: Math.min(base.maxRecords, 15_000), sources: [...base.sources, DISTILLATION_PAIRS] } : base;
  return {
    ...limits,
    ...(overrides.maxRecords !== undefined ? { maxRecords: overrides.maxRecords } : {}),
    ...(overrides.maxRecordTokens !== undefined ? { maxRecordTokens: overrides.maxRecordTokens } : {}),
  };
}

/** The reserved words found in a text (case ignored), in the order of the list. */
export function reservedWordsIn(text: string, words: readonly string[]): string[] {
  const lower = text.toLowerCase();
  return words.filter((w) => lower.includes(w.toLowerCase()));
}
