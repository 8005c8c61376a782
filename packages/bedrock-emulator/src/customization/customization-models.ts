/**
 * The base models a model customization job accepts, by customization type and Region, as the
 * Bedrock User Guide lists them (sources in docs/bedrock-fidelity.md, "Model customization jobs"):
 *
 * - Fine-tuning: "Supported models and Regions for fine-tuning"
 *   (https://docs.aws.amazon.com/bedrock/latest/userguide/custom-model-supported.html): the Nova
 *   text models in us-east-1, the Llama 3.1 / 3.2 text models in us-west-2.
 * - Distillation: "Choose teacher and student models for distillation"
 *   (https://docs.aws.amazon.com/bedrock/latest/userguide/prequisites-model-distillation.html) and
 *   Nova's customization table (https://docs.aws.amazon.com/nova/latest/userguide/customization.html):
 *   Nova Premier teaches Nova Pro / Lite / Micro, Nova Pro teaches Nova Lite / Micro; Llama 3.1 405B
 *   and 70B teach Llama 3.1 8B and 3.2 1B / 3B.
 *
 * Only the text models labelq can train are modelled; image and embedding models are left out.
 */

export type CustomizationType = "FINE_TUNING" | "DISTILLATION";

interface BaseModel {
  /** The id with its context-length suffix, as the fine-tuning table gives it. */
  id: string;
  region: string;
}

const NOVA_MICRO = { id: "amazon.nova-micro-v1:0:128k", region: "us-east-1" };
const NOVA_LITE = { id: "amazon.nova-lite-v1:0:300k", region: "us-east-1" };
const NOVA_PRO = { id: "amazon.nova-pro-v1:0:300k", region: "us-east-1" };
const LLAMA_31_8B = { id: "meta.llama3-1-8b-instruct-v1:0:128k", region: "us-west-2" };
const LLAMA_31_70B = { id: "meta.llama3-1-70b-instruct-v1:0:128k", region: "us-west-2" };
const LLAMA_32_1B = { id: "meta.llama3-2-1b-instruct-v1:0:128k", region: "us-west-2" };
const LLAMA_32_3B = { id: "meta.llama3-2-3b-instruct-v1:0:128k", region: "us-west-2" };

const FINE_TUNING: readonly BaseModel[] = [NOVA_MICRO, NOVA_LITE, NOVA_PRO, LLAMA_31_8B, LLAMA_31_70B, LLAMA_32_1B, LLAMA_32_3B];

/** Teacher model id (foundation model, without a context suffix) -> the students it can teach, in its Region. */
const DISTILLATION: ReadonlyMap<string, { region: string; students: readonly BaseModel[] }> = new Map([
  ["amazon.nova-premier-v1:0", { region: "us-east-1", students: [NOVA_PRO, NOVA_LITE, NOVA_MICRO] }],
  ["amazon.nova-pro-v1:0", { region: "us-east-1", students: [NOVA_LITE, NOVA_MICRO] }],
  ["meta.llama3-1-405b-instruct-v1:0", { region: "us-west-2", students: [LLAMA_31_8B, LLAMA_32_1B, LLAMA_32_3B] }],
  ["meta.llama3-1-70b-instruct-v1:0", { region: "us-west-2", students: [LLAMA_31_8B, LLAMA_32_1B, LLAMA_32_3B] }],
]);

/** A model id without its context-length suffix ("amazon.nova-micro-v1:0:128k" -> "amazon.nova-micro-v1:0"), and without an ARN's prefix. */
function bareId(identifier: string): string {
  const id = identifier.includes(":foundation-model/") ? identifier.slice(identifier.indexOf(":foundation-model/") + ":foundation-model/".length) : identifier;
  const parts = id.split(":");
  return parts.length > 2 ? parts.slice(0, 2).join(":") : id;
}

/** A teacher named by a geographic inference profile (us.amazon.nova-premier-v1:0) is its model. */
function teacherId(identifier: string): string {
  return bareId(identifier).replace(/^(us|eu|apac|global)\./, "");
}

/** Why a base model (and teacher) can't be customized this way in this Region, or undefined when it can. */
export function refuseBaseModel(type: CustomizationType, baseModel: string, region: string, teacher: string | undefined): string | undefined {
  const student = bareId(baseModel);
  if (type === "FINE_TUNING") {
    const model = FINE_TUNING.find((m) => bareId(m.id) === student);
    if (model === undefined) return `The base model ${baseModel} doesn't support fine-tuning. Models that do: ${FINE_TUNING.map((m) => m.id).join(", ")}.`;
    if (model.region !== region) return `The base model ${baseModel} doesn't support fine-tuning in ${region}; it does in ${model.region}.`;
    return undefined;
  }
  if (teacher === undefined) return "customizationConfig.distillationConfig.teacherModelConfig.teacherModelIdentifier is required for a DISTILLATION job.";
  const pairs = DISTILLATION.get(teacherId(teacher));
  if (pairs === undefined) return `The teacher model ${teacher} isn't supported for distillation. Teachers: ${[...DISTILLATION.keys()].join(", ")}.`;
  if (pairs.region !== region) return `Distillation from ${teacher} isn't supported in ${region}; it is in ${pairs.region}.`;
  if (!pairs.students.some((m) => bareId(m.id) === student)) {
    return `The student model ${baseModel} can't be distilled from ${teacher}. Its students: ${pairs.students.map((m) => m.id).join(", ")}.`;
  }
  return undefined;
}
