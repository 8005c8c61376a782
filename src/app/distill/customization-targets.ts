/**
 * The students labelq can start a Bedrock customization job for, and the teachers that can distil
 * into them, with the Region each runs in. From "Supported models and Regions for fine-tuning"
 * (https://docs.aws.amazon.com/bedrock/latest/userguide/custom-model-fine-tuning.html) and "Choose
 * teacher and student models for distillation"
 * (https://docs.aws.amazon.com/bedrock/latest/userguide/prequisites-model-distillation.html).
 */

import { InvalidRequestError } from "../../core/errors/errors.ts";

export type CustomizationType = "FINE_TUNING" | "DISTILLATION";

interface Target {
  /** The base model id with its context-length suffix, as CreateModelCustomizationJob takes it. */
  modelId: string;
  region: string;
  /** The training-set family `labelq distill export --student` writes for it. */
  family: "llama3" | "nova";
}

/** Student alias -> base model. */
export const STUDENT_MODELS: Readonly<Record<string, Target>> = {
  "nova-micro": { modelId: "amazon.nova-micro-v1:0:128k", region: "us-east-1", family: "nova" },
  "nova-lite": { modelId: "amazon.nova-lite-v1:0:300k", region: "us-east-1", family: "nova" },
  "nova-pro": { modelId: "amazon.nova-pro-v1:0:300k", region: "us-east-1", family: "nova" },
  "llama3.1-8b": { modelId: "meta.llama3-1-8b-instruct-v1:0:128k", region: "us-west-2", family: "llama3" },
  "llama3.2-1b": { modelId: "meta.llama3-2-1b-instruct-v1:0:128k", region: "us-west-2", family: "llama3" },
  "llama3.2-3b": { modelId: "meta.llama3-2-3b-instruct-v1:0:128k", region: "us-west-2", family: "llama3" },
};

/** Teacher alias -> its model id and the students it can distil into. */
export const TEACHER_MODELS: Readonly<Record<string, { modelId: string; region: string; students: readonly string[] }>> = {
  "nova-premier": { modelId: "us.amazon.nova-premier-v1:0", region: "us-east-1", students: ["nova-pro", "nova-lite", "nova-micro"] },
  "nova-pro": { modelId: "amazon.nova-pro-v1:0", region: "us-east-1", students: ["nova-lite", "nova-micro"] },
  "llama3.1-405b": { modelId: "meta.llama3-1-405b-instruct-v1:0", region: "us-west-2", students: ["llama3.1-8b", "llama3.2-1b", "llama3.2-3b"] },
  "llama3.1-70b": { modelId: "meta.llama3-1-70b-instruct-v1:0", region: "us-west-2", students: ["llama3.1-8b", "llama3.2-1b", "llama3.2-3b"] },
};

/** The job a student (and optional teacher) make. */
export interface CustomizationTarget {
  customizationType: CustomizationType;
  student: string;
  baseModelId: string;
  teacher?: string;
  teacherModelId?: string;
  region: string;
}

/**
 * DISTILLATION when a teacher is named and it can teach the student, FINE_TUNING (on the teacher's
 * labels already in the training set) when none is; in the student's Region only. A pair or Region
 * that is not supported is refused, naming what is.
 */
export function customizationTarget(student: string, teacher: string | undefined, region: string): CustomizationTarget {
  const target = STUDENT_MODELS[student];
  if (target === undefined) throw new InvalidRequestError(`unknown student "${student}"; students: ${Object.keys(STUDENT_MODELS).join(", ")}`);
  if (target.region !== region) {
    throw new InvalidRequestError(`${student} is customized in ${target.region} only, not ${region}; set AWS_REGION=${target.region} (or choose a student customized in ${region}: ${aliasesIn(region)})`);
  }
  if (teacher === undefined) return { customizationType: "FINE_TUNING", student, baseModelId: target.modelId, region };
  const teaching = TEACHER_MODELS[teacher];
  const teachersOf = Object.entries(TEACHER_MODELS).filter(([, t]) => t.students.includes(student)).map(([alias]) => alias);
  if (teaching === undefined || !teaching.students.includes(student)) {
    const students = teaching === undefined ? "" : `; ${teacher} teaches ${teaching.students.join(", ")}`;
    throw new InvalidRequestError(
      `Bedrock can't distil ${student} from ${teacher}: its teachers are ${teachersOf.join(", ") || "none"}${students}. Leave out --teacher to fine-tune ${student} on the exported labels instead.`,
    );
  }
  return { customizationType: "DISTILLATION", student, baseModelId: target.modelId, teacher, teacherModelId: teaching.modelId, region };
}

function aliasesIn(region: string): string {
  return Object.entries(STUDENT_MODELS).filter(([, t]) => t.region === region).map(([alias]) => alias).join(", ") || "none";
}
