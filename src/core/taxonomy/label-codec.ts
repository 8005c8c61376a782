import { z } from "zod";
import type { LabelValue } from "../contracts/result.ts";
import type { Dimension, Taxonomy } from "./taxonomy-schema.ts";

/** Result of decoding one text's compact model output. */
export type DecodedItem =
  | { ok: true; labels: Record<string, LabelValue> }
  | { ok: false; issues: string[] };

/**
 * The compact output format: the model writes dimension codes as keys and label codes as
 * values (booleans as 1/0), which keeps output tokens per text small; this codec validates
 * that shape per text and decodes it into full dimension keys and label names.
 */
export interface LabelCodec {
  /** Validate one output object (without its "i") and decode it, or list what is wrong. */
  decode(raw: unknown): DecodedItem;
}

/** Build the codec of a taxonomy: one zod schema per dimension, built once. */
export function createLabelCodec(taxonomy: Taxonomy): LabelCodec {
  const fields = taxonomy.dimensions.map((d) => ({ d, schema: compactSchema(d), decodeValue: valueDecoder(d) }));
  return {
    decode(raw) {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { ok: false, issues: ["not an object"] };
      const obj = raw as Record<string, unknown>;
      const labels: Record<string, LabelValue> = {};
      const issues: string[] = [];
      for (const { d, schema, decodeValue } of fields) {
        if (!(d.code in obj)) {
          issues.push(`${d.key}: missing`);
          continue;
        }
        const parsed = schema.safeParse(obj[d.code]);
        if (parsed.success) labels[d.key] = decodeValue(parsed.data);
        else issues.push(`${d.key}: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
      }
      return issues.length === 0 ? { ok: true, labels } : { ok: false, issues };
    },
  };
}

function compactSchema(d: Dimension): z.ZodType {
  switch (d.kind) {
    case "single":
      return z.enum(d.labels.map((l) => l.code) as [string, ...string[]]);
    case "multi": {
      const codes = z.enum(d.labels.map((l) => l.code) as [string, ...string[]]);
      return z
        .array(codes)
        .min(d.minItems)
        .max(d.maxItems)
        .refine((xs) => new Set(xs).size === xs.length, "repeated label");
    }
    case "scale": {
      const n = z.number().int().min(d.min).max(d.max);
      return d.nullable ? n.nullable() : n;
    }
    case "boolean": {
      // Models write 1/0 as asked, but true/false is unambiguous too.
      const b = z.union([z.literal(0), z.literal(1), z.boolean()]);
      return d.nullable ? b.nullable() : b;
    }
  }
}

function valueDecoder(d: Dimension): (v: unknown) => LabelValue {
  switch (d.kind) {
    case "single": {
      const byCode = new Map(d.labels.map((l) => [l.code, l.name]));
      return (v) => byCode.get(v as string) ?? null;
    }
    case "multi": {
      const byCode = new Map(d.labels.map((l) => [l.code, l.name]));
      return (v) => (v as string[]).map((c) => byCode.get(c) ?? c);
    }
    case "scale":
      return (v) => v as number | null;
    case "boolean":
      return (v) => (v === null ? null : v === 1 || v === true);
  }
}
