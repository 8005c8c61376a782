import { z } from "zod";
import { awsError, type AwsError } from "./aws-errors.ts";

// Loose objects: the emulator reads only what it needs and ignores other fields
// (guardContent, outputConfig ...) as the service would accept them.
const cachePoint = z.looseObject({ type: z.literal("default") });
const block = z.looseObject({ text: z.string().optional(), cachePoint: cachePoint.optional() });

const toolChoiceSchema = z.looseObject({
  auto: z.looseObject({}).optional(),
  any: z.looseObject({}).optional(),
  tool: z.looseObject({ name: z.string().min(1) }).optional(),
});

const converseBodySchema = z.looseObject({
  messages: z.array(z.looseObject({ role: z.enum(["user", "assistant"]), content: z.array(block) })).min(1),
  system: z.array(block).optional(),
  inferenceConfig: z
    .looseObject({ maxTokens: z.number().int().min(1).optional(), temperature: z.number().optional(), topP: z.number().optional() })
    .optional(),
  toolConfig: z
    .looseObject({
      tools: z
        .array(z.looseObject({ toolSpec: z.looseObject({ name: z.string().min(1) }).optional(), cachePoint: cachePoint.optional() }))
        .min(1),
      toolChoice: toolChoiceSchema.optional(),
    })
    .optional(),
  serviceTier: z.looseObject({ type: z.string() }).optional(),
});

/** Converse `serviceTier.type` values (docs: API_runtime_ServiceTier). */
export const SERVICE_TIERS = ["priority", "default", "flex", "reserved"] as const;
export type ServiceTierType = (typeof SERVICE_TIERS)[number];

/** Which toolChoice member a request set: "auto" lets the model choose, "any" and "tool" force a tool call. */
export type ToolChoiceKind = "auto" | "any" | "tool";

/** The request's toolConfig, as far as the simulated model and the per-model rules need it. */
export interface ToolRequest {
  names: string[];
  /** undefined when the request set no toolChoice (the service then behaves as "auto"). */
  choice: ToolChoiceKind | undefined;
  /** The tool named by toolChoice.tool. */
  forcedName: string | undefined;
  /** The tools as sent, serialised: they come before the system prompt in a cached prefix. */
  fingerprint: string;
}

/** What the simulated model needs from a Converse request. */
export interface ConverseInput {
  systemText: string;
  /** Text of the last user message: the texts to label are in it. */
  lastUserText: string;
  /** Every system and message text block, for the input token count (each block counted on its own). */
  inputTexts: string[];
  maxTokens: number | undefined;
  /** Which sampling parameters the request set (inferenceConfig.temperature / topP). */
  sampling: { temperature: boolean; topP: boolean };
  /** The tool the answer calls when the caller asked for tool use: the forced one, else the first. */
  toolName: string | undefined;
  tools: ToolRequest | undefined;
  /** System text before the last cachePoint in `system`; undefined when `system` has none. */
  systemCachePrefix: string | undefined;
  /** The system text blocks before that cache point. */
  systemCacheTexts: string[];
  /** cachePoint blocks anywhere in the request (system, messages, tools). */
  cachePoints: number;
  /** serviceTier.type, when the request set one. */
  serviceTier: ServiceTierType | undefined;
}

/** Parses and validates a Converse body; an invalid one gives the ValidationException the service would send. */
export function parseConverseBody(raw: string): ConverseInput | AwsError {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return awsError("ValidationException", "Malformed input request: the request body is not valid JSON.");
  }
  const parsed = converseBodySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join(".") || "body";
    return awsError("ValidationException", `1 validation error detected: value at '${where}' failed to satisfy constraint: ${issue?.message ?? "invalid"}`);
  }
  const body = parsed.data;
  for (const [m, message] of body.messages.entries()) {
    if (message.content.length === 0) {
      return awsError("ValidationException", `The content field in the Message object at messages.${m} is empty. Add a ContentBlock object to the content field and try again.`);
    }
    for (const [c, content] of message.content.entries()) {
      if (content.text !== undefined && content.text.trim() === "") {
        return awsError("ValidationException", `The text field in the ContentBlock object at messages.${m}.content.${c} is blank. Add text to the text field, and try again.`);
      }
    }
  }
  if (body.messages[0]?.role !== "user") {
    return awsError("ValidationException", "A conversation must start with a user message. Try again with a conversation that starts with a user message.");
  }

  const serviceTier = body.serviceTier?.type;
  if (serviceTier !== undefined && !isServiceTier(serviceTier)) {
    // The service's answer to a tier outside the enum (NousResearch/hermes-agent#34476).
    return awsError("ValidationException", "service tier provided is invalid");
  }

  const tools = toolRequest(body.toolConfig);
  if (tools?.forcedName !== undefined && !tools.names.includes(tools.forcedName)) {
    return awsError("ValidationException", `The tool ${tools.forcedName} named in toolConfig.toolChoice.tool is not in toolConfig.tools. Add it, or name one of the tools, and try again.`);
  }

  const texts = (blocks: { text?: string | undefined }[]): string[] => blocks.flatMap((b) => (b.text === undefined ? [] : [b.text]));
  const system = body.system ?? [];
  const systemText = texts(system).join("\n");
  const lastUser = body.messages.findLast((m) => m.role === "user");
  const lastSystemCachePoint = system.findLastIndex((b) => b.cachePoint !== undefined);
  const countCachePoints = (blocks: { cachePoint?: unknown }[]) => blocks.filter((b) => b.cachePoint !== undefined).length;
  return {
    systemText,
    lastUserText: texts(lastUser?.content ?? []).join("\n"),
    inputTexts: [...texts(system), ...body.messages.flatMap((m) => texts(m.content))],
    maxTokens: body.inferenceConfig?.maxTokens,
    sampling: { temperature: body.inferenceConfig?.temperature !== undefined, topP: body.inferenceConfig?.topP !== undefined },
    toolName: tools === undefined ? undefined : (tools.forcedName ?? tools.names[0]),
    tools,
    systemCachePrefix: lastSystemCachePoint < 0 ? undefined : texts(system.slice(0, lastSystemCachePoint)).join("\n"),
    systemCacheTexts: lastSystemCachePoint < 0 ? [] : texts(system.slice(0, lastSystemCachePoint)),
    cachePoints:
      countCachePoints(system) + body.messages.reduce((n, m) => n + countCachePoints(m.content), 0) + countCachePoints(body.toolConfig?.tools ?? []),
    serviceTier,
  };
}

function isServiceTier(value: string): value is ServiceTierType {
  return (SERVICE_TIERS as readonly string[]).includes(value);
}

function toolRequest(config: z.infer<typeof converseBodySchema>["toolConfig"]): ToolRequest | undefined {
  if (config === undefined) return undefined;
  const choice = config.toolChoice;
  return {
    names: config.tools.flatMap((t) => (t.toolSpec === undefined ? [] : [t.toolSpec.name])),
    choice: choice?.tool !== undefined ? "tool" : choice?.any !== undefined ? "any" : choice?.auto !== undefined ? "auto" : undefined,
    forcedName: choice?.tool?.name,
    fingerprint: JSON.stringify(config.tools),
  };
}

/** True when a parse or lookup answered with an error. */
export function isAwsError<T extends object>(value: T | AwsError): value is AwsError {
  return "name" in value && "message" in value;
}
