import { z } from "zod";

/** Short code the model writes instead of a full key or label name: 1-4 lowercase letters or digits. */
const code = z
  .string()
  .regex(/^[a-z][a-z0-9]{0,3}$/, "a code is 1-4 lowercase letters/digits, starting with a letter");

const example = z.object({
  text: z.string().min(1),
  /** The label(s) a careful annotator gives this text for this dimension, by full name. */
  label: z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.string())]),
  why: z.string().optional(),
});

const choice = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/, "label names are snake_case"),
  code,
  description: z.string().min(1),
});

const common = {
  key: z.string().regex(/^[a-z][a-z0-9_]*$/, "dimension keys are snake_case"),
  code,
  title: z.string().min(1),
  definition: z.string().min(1),
  examples: z.array(example).default([]),
  edgeCases: z.array(z.string()).default([]),
};

const singleChoice = z.object({
  ...common,
  kind: z.literal("single"),
  labels: z.array(choice).min(2),
});

const multiChoice = z.object({
  ...common,
  kind: z.literal("multi"),
  labels: z.array(choice).min(2),
  minItems: z.number().int().min(0).default(0),
  maxItems: z.number().int().min(1),
});

const scale = z.object({
  ...common,
  kind: z.literal("scale"),
  min: z.number().int(),
  max: z.number().int(),
  /** Meaning of each point (or of some anchor points) of the scale. */
  anchors: z.array(z.object({ value: z.number().int(), description: z.string().min(1) })).min(2),
  /** When true the model may answer null ("unknown / not applicable"). */
  nullable: z.boolean().default(false),
});

const boolean = z.object({
  ...common,
  kind: z.literal("boolean"),
  nullable: z.boolean().default(false),
});

export const dimensionSchema = z.discriminatedUnion("kind", [singleChoice, multiChoice, scale, boolean]);

export const taxonomySchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9-]*$/, "taxonomy names are kebab-case"),
  title: z.string().min(1),
  description: z.string().min(1),
  dimensions: z.array(dimensionSchema).min(1),
});

export type Dimension = z.infer<typeof dimensionSchema>;
export type Taxonomy = z.infer<typeof taxonomySchema>;
