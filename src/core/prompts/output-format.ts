import type { Dimension } from "../taxonomy/taxonomy-schema.ts";

/**
 * The answer formats labelq can ask a model for. "json": an object per text keyed by dimension
 * codes (forced through a tool where the model supports it). "lines": one positional line per
 * text, the fields in taxonomy order; about a third of JSON's output tokens, because a
 * space-led code is one Llama 3 token and no key or quote is written.
 */
export const OUTPUT_FORMATS = ["lines", "json"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/**
 * The lines format's fixed symbols. A space before a letter code joins it into one token (Llama 3
 * and most BPE vocabularies), so fields are space-separated; y/n cost one token where 1/0 cost two.
 */
export const LINES = {
  separator: " ",
  /** Between the labels of a multi-choice field. */
  join: "+",
  /** A null ("unknown / not applicable") or an empty multi-choice field. */
  none: "-",
  yes: "y",
  no: "n",
} as const;

/**
 * A label value in the compact shape the label codec reads (single: code; multi: codes; scale:
 * number; boolean: 0/1; null), written as one field of the lines format.
 */
export function lineField(d: Dimension, value: unknown): string {
  if (value === null || value === undefined) return LINES.none;
  switch (d.kind) {
    case "multi":
      return Array.isArray(value) && value.length > 0 ? value.map(String).join(LINES.join) : LINES.none;
    case "boolean":
      return value === 1 || value === true ? LINES.yes : LINES.no;
    case "single":
    case "scale":
      // Whatever was given is written as it is, for the reader to reject when it is not a code or a number.
      return typeof value === "string" || typeof value === "number" ? String(value) : JSON.stringify(value);
  }
}

/** The value an output format's example shows for a dimension, in the compact shape: the first label(s), the scale's low end, no. */
export function exampleValue(d: Dimension): unknown {
  switch (d.kind) {
    case "single":
      return d.labels[0]?.code;
    case "multi":
      return d.labels.slice(0, Math.max(1, d.minItems)).map((l) => l.code);
    case "scale":
      return d.min;
    case "boolean":
      return 0;
  }
}

/** A taxonomy example's label (by full name) in the compact shape: label codes, booleans as 1/0. */
export function compactLabel(d: Dimension, label: unknown): unknown {
  if (label === null) return null;
  switch (d.kind) {
    case "single":
      return d.labels.find((l) => l.name === label)?.code ?? label;
    case "multi":
      return Array.isArray(label) ? label.map((name: unknown) => d.labels.find((l) => l.name === name)?.code ?? name) : label;
    case "scale":
      return label;
    case "boolean":
      return label === true || label === 1 ? 1 : 0;
  }
}
