import { z } from "zod";

/** Limits checked before any model call. Config sets them; these are the safe defaults. */
export interface RequestLimits {
  maxItems: number;
  maxTextChars: number;
  maxBodyBytes: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = {
  maxItems: 100,
  maxTextChars: 5_000,
  // SQS accepts up to 1 MiB per message; the default leaves room for attributes.
  maxBodyBytes: 1_000_000,
};

const idPattern = /^[A-Za-z0-9._:@/-]+$/;
const idMessage = "may contain only letters, digits and . _ : @ / -";

/** The zod schema of a request message (contract v1) under the given limits. */
export function requestSchema(limits: RequestLimits = DEFAULT_REQUEST_LIMITS) {
  const item = z.object({
    id: z.string().min(1).max(128).regex(idPattern, `item id ${idMessage}`).describe("Unique within the batch; echoed in the result"),
    // Not refused here: an empty, blank or over-long text gets an item error and the rest of the
    // batch is labelled (src/core/contracts/text-checks.ts). The body size limit still bounds it.
    text: z
      .string()
      .describe(
        `The text to label. Empty, blank or longer than the limit (LABELQ_MAX_TEXT_CHARS, default ${DEFAULT_REQUEST_LIMITS.maxTextChars}): the item gets an error (TEXT_EMPTY, TEXT_TOO_LONG) in the result, is not sent to the model, and the rest of the batch is labelled`,
      ),
    metadata: z.record(z.string(), z.unknown()).optional().describe("Opaque to labelq; not sent to the model"),
  });
  return z
    .object({
      schemaVersion: z.literal(1),
      batchId: z.string().min(1).max(128).regex(idPattern, `batchId ${idMessage}`).describe("Idempotency key of the batch"),
      taxonomy: z.string().min(1).max(64).regex(/^[a-z][a-z0-9-]*$/, "taxonomy names are kebab-case").optional().describe("Taxonomy name; defaults from config"),
      promptVersion: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, "a version or alias may contain only letters, digits and . _ -").optional().describe("Prompt version (v3) or environment alias (prod); defaults from config"),
      model: z.string().min(1).max(128).optional().describe("Model alias from the registry, allow-listed in config"),
      items: z.array(item).min(1, "a batch needs at least one item").max(limits.maxItems, `a batch holds at most ${limits.maxItems} items`),
      inference: z
        .object({ temperature: z.number().min(0).max(1).optional(), topP: z.number().gt(0).max(1).optional() })
        .strict()
        .optional()
        .describe("Overrides the taxonomy's and the model's defaults (temperature 0.5, topP 0.9)"),
      cache: z
        .enum(["use", "bypass", "refresh"])
        .optional()
        .describe("use (default): reuse cached labels; bypass: neither read nor write the cache; refresh: label anew and overwrite the cache"),
      mode: z
        .enum(["auto", "live", "bulk"])
        .optional()
        .describe(
          "auto (default): the worker picks live or bulk (Bedrock batch inference, about half price, results in hours) from the backlog, the model and the deadline; live: label now; bulk: through batch inference when the model supports it",
        ),
      tier: z
        .enum(["default", "flex", "priority"])
        .optional()
        .describe(
          "Bedrock service tier for the batch's live calls: default (Standard), flex (discounted, served after the others under load) or priority (a premium, served first). Only for a model that offers it (else refused, TIER_NOT_OFFERED); a fallback model without it runs on default. Absent: the worker's tier policy decides from the deadline (off by default: default tier)",
        ),
      deadline: z.iso
        .datetime({ offset: true, message: "deadline must be an ISO 8601 date-time, e.g. 2026-11-25T18:00:00Z" })
        .optional()
        .describe("Latest time the result is wanted; a deadline too close for batch inference's turnaround forces live labelling"),
      replyTo: z.string().url().optional().describe("Result queue URL; must match the worker's allow-list"),
      attributes: z.record(z.string().max(256), z.string().max(1024)).optional().describe("Echoed back in the result"),
    })
    .strict()
    .superRefine((req, ctx) => {
      const seen = new Set<string>();
      req.items.forEach((it, index) => {
        if (seen.has(it.id)) {
          ctx.addIssue({ code: "custom", path: ["items", index, "id"], message: `duplicate item id "${it.id}"`, params: { reason: "DUPLICATE_ITEM_ID" } });
        }
        seen.add(it.id);
      });
    });
}

export type LabelRequest = z.infer<ReturnType<typeof requestSchema>>;
export type RequestMode = NonNullable<LabelRequest["mode"]>;
export type RequestItem = LabelRequest["items"][number];
