import { z } from "zod";
import { awsError, type AwsError } from "./aws-errors.ts";

// Loose objects: the emulator reads only what it needs and ignores other fields
// (cachePoint, guardContent, outputConfig ...) as the service would accept them.
const block = z.looseObject({ text: z.string().optional() });

const converseBodySchema = z.looseObject({
  messages: z.array(z.looseObject({ role: z.enum(["user", "assistant"]), content: z.array(block) })).min(1),
  system: z.array(block).optional(),
  inferenceConfig: z.looseObject({ maxTokens: z.number().int().min(1).optional() }).optional(),
  toolConfig: z
    .looseObject({
      tools: z.array(z.looseObject({ toolSpec: z.looseObject({ name: z.string().min(1) }).optional() })).min(1),
    })
    .optional(),
});

/** What the simulated model needs from a Converse request. */
export interface ConverseInput {
  systemText: string;
  /** Text of the last user message: the texts to label are in it. */
  lastUserText: string;
  /** Every system and message text, for the input token estimate. */
  allText: string;
  maxTokens: number | undefined;
  /** Name of the first tool when the caller asked for tool use. */
  toolName: string | undefined;
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

  const texts = (blocks: { text?: string | undefined }[]): string[] => blocks.flatMap((b) => (b.text === undefined ? [] : [b.text]));
  const systemText = texts(body.system ?? []).join("\n");
  const lastUser = body.messages.findLast((m) => m.role === "user");
  return {
    systemText,
    lastUserText: texts(lastUser?.content ?? []).join("\n"),
    allText: [systemText, ...body.messages.flatMap((m) => texts(m.content))].join(""),
    maxTokens: body.inferenceConfig?.maxTokens,
    toolName: body.toolConfig?.tools.find((t) => t.toolSpec !== undefined)?.toolSpec?.name,
  };
}

/** True when parseConverseBody answered with an error. */
export function isAwsError(value: ConverseInput | AwsError): value is AwsError {
  return "name" in value && "message" in value;
}
