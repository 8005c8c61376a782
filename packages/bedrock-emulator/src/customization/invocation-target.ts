import type { BedrockModel } from "../bedrock-models.ts";
import type { LabelErrorOptions } from "../label-errors.ts";

/** What Converse on a custom model deployment's or Provisioned Throughput's ARN answers as: its base model's rules and its job's error model. */
export interface InvocationTarget {
  model: BedrockModel;
  labelErrors: LabelErrorOptions;
}
