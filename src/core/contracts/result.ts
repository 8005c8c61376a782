import { z } from "zod";
import { textErrorCodes } from "./text-checks.ts";

/** A decoded label value: a choice name, a list of names, a scale point, a yes/no, or null for unknown. */
export const labelValueSchema = z.union([z.string(), z.array(z.string()), z.number(), z.boolean(), z.null()]);

export const itemErrorCodes = [
  "INVALID_OUTPUT",
  "MISSING_FROM_OUTPUT",
  "MODEL_REJECTED_REQUEST",
  "MODEL_ERROR",
  // Added within version 1: texts the worker does not send to the model (src/core/contracts/text-checks.ts).
  ...textErrorCodes,
] as const;

export const resultItemSchema = z.object({
  id: z.string(),
  labels: z.record(z.string(), labelValueSchema).nullable().describe("Dimension key -> label; null when the item has an error"),
  source: z.enum(["model", "cache"]).nullable(),
  model: z.string().nullable().describe("Bedrock model id that answered this item; a cascaded item (LABELQ_MODEL_ROUTES) the teacher completed reads <student id>+<teacher id>"),
  promptVersion: z.string().optional().describe("Prompt version that labelled this item (a canary share may differ from the batch's)"),
  error: z
    .object({ code: z.enum(itemErrorCodes), message: z.string() })
    .nullable()
    .describe("Why the item has no labels. TEXT_EMPTY, TEXT_TOO_LONG and TEXT_INVALID: the text was not sent to the model (nothing billed, nothing cached); the rest of the batch is labelled"),
});

/** One service tier's share of a batch's answered calls. */
const tierUsageSchema = z.object({ modelCalls: z.number().int().nonnegative(), costUsd: z.number().nonnegative() });

export const resultSchema = z.object({
  schemaVersion: z.literal(1),
  batchId: z.string(),
  status: z.enum(["completed", "partial", "failed"]).describe("completed: every item labelled; partial: some items have errors; failed: none labelled"),
  taxonomy: z.string(),
  promptVersion: z.string(),
  promptHash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  model: z.string().describe("Model alias the batch asked for (or the default)"),
  items: z.array(resultItemSchema),
  usage: z.object({
    modelCalls: z.number().int().nonnegative(),
    inputTokens: z.number().int().nonnegative().describe("Input tokens billed at the input price"),
    outputTokens: z.number().int().nonnegative(),
    cacheReadInputTokens: z.number().int().nonnegative().describe("Prompt-cache reads (Claude): billed at the cache-read price"),
    cacheWriteInputTokens: z.number().int().nonnegative().describe("Prompt-cache writes (Claude): billed at the cache-write price"),
    // Optional on read (0 / absent), so results written before these fields existed still parse.
    reservedTokens: z
      .number()
      .int()
      .nonnegative()
      .default(0)
      .describe("Tokens-per-minute quota Bedrock reserved for the answered calls (input, cache and maxTokens, held until each call ended)"),
    perText: z
      .object({
        inputTokens: z.number().nonnegative().describe("Input tokens (cache reads and writes included) per text sent to the model"),
        outputTokens: z.number().nonnegative(),
        reservedTokens: z.number().nonnegative(),
      })
      .optional()
      .describe("The batch's tokens divided by the texts sent to the model (cache hits excluded); 0 when none was"),
    tiers: z
      .object(Object.fromEntries(["default", "flex", "priority"].map((t) => [t, tierUsageSchema.optional()])) as Record<"default" | "flex" | "priority", z.ZodOptional<typeof tierUsageSchema>>)
      .optional()
      .describe("Answered calls and their cost by the Bedrock service tier that served them; present only when some call was sent with a tier (the request's tier, the tier policy or a pool's)"),
    tierFallbacks: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe("Answered calls sent on the default tier because their model (a fallback) does not offer the tier the batch asked for"),
    cacheHits: z.number().int().nonnegative().describe("Texts answered wholly from the label cache"),
    costUsd: z.number().nonnegative(),
  }),
  timing: z.object({
    receivedAt: z.string().datetime(),
    completedAt: z.string().datetime(),
    durationMs: z.number().int().nonnegative(),
  }),
  attributes: z.record(z.string(), z.string()),
});

export type LabelResult = z.infer<typeof resultSchema>;
export type ResultItem = z.infer<typeof resultItemSchema>;
export type ItemErrorCode = (typeof itemErrorCodes)[number];
export type LabelValue = z.infer<typeof labelValueSchema>;
