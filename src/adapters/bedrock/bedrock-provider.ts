import {
  type BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandInput,
  type ConverseCommandOutput,
  type SystemContentBlock,
  type ToolConfiguration,
  type ToolInputSchema,
} from "@aws-sdk/client-bedrock-runtime";
import { ModelCallError } from "../../core/errors/errors.ts";
import type { ModelProvider, ModelRequest, ModelResponse } from "../../core/models/model-provider.ts";
import { currentRoute, type PoolRoute } from "../../core/quota/pool-route.ts";
import { SERVICE_TIERS, type ServiceTier } from "../../core/models/service-tiers.ts";

/** ModelProvider over the Bedrock Converse API. The client (retries, timeouts, endpoint) is built from config elsewhere. */
export class BedrockProvider implements ModelProvider {
  readonly #client: BedrockRuntimeClient;

  constructor(client: BedrockRuntimeClient) {
    this.#client = client;
  }

  async converse(request: ModelRequest, signal?: AbortSignal): Promise<ModelResponse> {
    let out: ConverseCommandOutput;
    try {
      out = await this.#client.send(new ConverseCommand(converseInput(request)), { abortSignal: signal });
    } catch (error) {
      throw toModelCallError(request.modelId, error, Date.now(), request.serviceTier);
    }
    return converseResponse(out, request.structuredOutput !== undefined, request.serviceTier);
  }
}

/**
 * ModelProvider over several quota pools: each call goes to the client of the Region its pool
 * is in (PooledLimiter routes it; the route is read from the call's async context), by the
 * pool's own model id when it has one. A pool whose endpoint is down or that refuses labelq's
 * credentials is taken out of service; the error still reaches the caller, whose retry then
 * goes to another pool.
 */
export class PooledBedrockProvider implements ModelProvider {
  readonly #clientFor: (pool: Pick<PoolRoute, "poolId" | "region">) => BedrockRuntimeClient;
  readonly #fallback: BedrockRuntimeClient;

  /** `clientFor` gives the client signing for a pool (its Region's, or its own role's); `fallback` serves a call made outside a pool's route. */
  constructor(clientFor: (pool: Pick<PoolRoute, "poolId" | "region">) => BedrockRuntimeClient, fallback: BedrockRuntimeClient) {
    this.#clientFor = clientFor;
    this.#fallback = fallback;
  }

  async converse(request: ModelRequest, signal?: AbortSignal): Promise<ModelResponse> {
    const route = currentRoute();
    const client = route ? this.#clientFor(route) : this.#fallback;
    // The request's serviceTier was chosen for this route's Region and pool tier (core tierFor).
    const sent = route?.modelId ? { ...request, modelId: route.modelId } : request;
    let out: ConverseCommandOutput;
    try {
      out = await client.send(new ConverseCommand(converseInput(sent)), { abortSignal: signal });
    } catch (error) {
      const reason = signal?.aborted ? undefined : poolFailure(error);
      if (route && reason) route.takeOut(reason, error);
      throw toModelCallError(sent.modelId, error, Date.now(), sent.serviceTier);
    }
    return converseResponse(out, request.structuredOutput !== undefined, sent.serviceTier);
  }
}

/** Network errors that mean the Region's endpoint cannot be reached at all. */
const CONNECTION_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ERR_HTTP2_SESSION_ERROR", "ERR_HTTP2_GOAWAY_SESSION"]);

/**
 * Why a failure takes the whole pool out, or undefined when it does not: the endpoint is down
 * (503 ServiceUnavailableException other than "Too many connections", which is load shedding;
 * a connection that cannot be made), or the pool refuses labelq (AccessDeniedException,
 * UnrecognizedClientException: no model access or bad credentials there). Throttles, timeouts
 * and a model's own errors stay with the limiter's lane and the retry policy.
 */
export function poolFailure(error: unknown): string | undefined {
  const e = error as { name?: string; message?: string; code?: string };
  const text = e.message ?? "";
  if (e.name === "ServiceUnavailableException" && !TOO_MANY_CONNECTIONS.test(text)) return `endpoint unavailable (${e.name})`;
  if (e.name === "AccessDeniedException" || e.name === "UnrecognizedClientException") return `access refused (${e.name})`;
  if (e.code !== undefined && CONNECTION_ERRORS.has(e.code)) return `endpoint unreachable (${e.code})`;
  return undefined;
}

/**
 * A Converse answer (the SDK's output, or the same JSON as a batch inference record's
 * `modelOutput`) as a ModelResponse. `structured`: the request forced the answer tool.
 */
export function converseResponse(out: Pick<ConverseCommandOutput, "output" | "stopReason" | "usage" | "serviceTier">, structured: boolean, sentTier?: ServiceTier): ModelResponse {
  const served = servedTier(out, sentTier);
  return {
    text: answerText(out, structured),
    stopReason: out.stopReason ?? "end_turn",
    usage: usageOf(out),
    ...(served === undefined ? {} : { serviceTier: served }),
  };
}

/**
 * The tier that served a call sent with one: the response's serviceTier (docs:
 * service-tiers-inference: "The service tier configuration for a served request is visible in
 * API response"), else the tier sent. A call sent without one has none: it is priced at list.
 */
function servedTier(out: Pick<ConverseCommandOutput, "serviceTier">, sentTier: ServiceTier | undefined): ServiceTier | undefined {
  if (sentTier === undefined) return undefined;
  const reported = out.serviceTier?.type;
  return (SERVICE_TIERS as readonly string[]).includes(reported ?? "") ? (reported as ServiceTier) : sentTier;
}

/**
 * The Converse request body of a call as a batch inference record's `modelInput` (a job of
 * modelInvocationType "Converse"; the model id is the job's). The same request as a live call
 * except two things batch inference does not take:
 *  - toolConfig: "Batch inference doesn't support tool calling (function calling) for jobs that
 *    use the Converse invocation type. Records that include toolConfig fail with a 400 error"
 *    (docs: batch-inference.html). The forced answer tool is left out; the system prompt still
 *    describes the answer format, which readAnswer reads from the text as it does for models
 *    without tool use.
 *  - cachePoint: prompt caching is not documented for batch inference; left out (unverified).
 *  - serviceTier: service tiers are for on-demand calls (docs: service-tiers-inference); left out.
 */
export function batchRecordBody(request: ModelRequest): Record<string, unknown> {
  const { modelId: _modelId, toolConfig: _tool, ...body } = converseInput({ ...request, cacheSystemPrompt: false, serviceTier: undefined });
  return JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
}

/** Read a batch inference record's `modelOutput` (a Converse response body) as a ModelResponse. */
export function batchRecordResponse(modelOutput: unknown): ModelResponse {
  // The record was sent without the answer tool (see batchRecordBody): its answer is text.
  return converseResponse(modelOutput as Pick<ConverseCommandOutput, "output" | "stopReason" | "usage">, false);
}

/** Name of the tool that structured output forces the model to call; its input is the answer. */
export const STRUCTURED_OUTPUT_TOOL = "record_labels";

function converseInput(request: ModelRequest): ConverseCommandInput {
  const system: SystemContentBlock[] = [{ text: request.system }];
  // Everything before the cache point is the cached prefix: the system prompt, the same for
  // every chunk of a taxonomy version, while the texts in the user turn change every call.
  if (request.cacheSystemPrompt) system.push({ cachePoint: { type: "default" } });
  const input: ConverseCommandInput = {
    modelId: request.modelId,
    system,
    messages: [{ role: "user", content: [{ text: request.user }] }],
    // Only the sampling parameters present: a model may refuse one, or two together.
    inferenceConfig: { maxTokens: request.inference.maxTokens, ...definedOnly({ temperature: request.inference.temperature, topP: request.inference.topP }) },
  };
  if (request.structuredOutput) input.toolConfig = forcedTool(request.structuredOutput.schema);
  if (request.serviceTier !== undefined) input.serviceTier = { type: request.serviceTier };
  return input;
}

function definedOnly<T extends Record<string, number | undefined>>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function forcedTool(schema: Record<string, unknown>): ToolConfiguration {
  // The SDK types a schema as a JSON document; any JSON-serialisable object is one.
  const inputSchema = { json: schema } as ToolInputSchema;
  return {
    tools: [
      {
        toolSpec: {
          name: STRUCTURED_OUTPUT_TOOL,
          description: "Record the labels of every numbered text: one object per text, with its number as \"i\".",
          inputSchema,
        },
      },
    ],
    // Forced, not "auto": without it a model may answer prose instead of calling the tool.
    toolChoice: { tool: { name: STRUCTURED_OUTPUT_TOOL } },
  };
}

/**
 * The answer as text: the forced tool's input serialised as JSON when the model called it, so
 * the parser and validator stay the same for both paths; otherwise the text blocks, since a
 * model may still answer in text.
 */
function answerText(out: Pick<ConverseCommandOutput, "output">, structured: boolean): string {
  const content = out.output?.message?.content ?? [];
  const toolUse = structured ? content.find((c) => c.toolUse?.name === STRUCTURED_OUTPUT_TOOL)?.toolUse : undefined;
  if (toolUse?.input !== undefined) return JSON.stringify(toolUse.input);
  return content.map((c) => c.text ?? "").join("");
}

function usageOf(out: Pick<ConverseCommandOutput, "usage">): ModelResponse["usage"] {
  const usage: ModelResponse["usage"] = { inputTokens: out.usage?.inputTokens ?? 0, outputTokens: out.usage?.outputTokens ?? 0 };
  // Only when reported, so a response without caching keeps the two-field shape.
  if (out.usage?.cacheReadInputTokens !== undefined) usage.cacheReadInputTokens = out.usage.cacheReadInputTokens;
  if (out.usage?.cacheWriteInputTokens !== undefined) usage.cacheWriteInputTokens = out.usage.cacheWriteInputTokens;
  return usage;
}

/**
 * The one table that decides which Bedrock failures are retryable (errors: SDK statuses and
 * messages as Bedrock sends them). The SDK makes one attempt, so every failure lands here.
 *  - ThrottlingException "Too many tokens per day": the daily quota is spent; nothing helps
 *    until it resets, so it has its own code and the limiter pauses the model.
 *  - ThrottlingException (429, per-minute quotas) and ServiceUnavailableException "Too many
 *    connections" (503, load shedding, not an outage): throttles; back off, never trip a breaker.
 *  - ServiceUnavailable otherwise, ModelNotReady, InternalServer: the model is unavailable.
 *  - ServiceQuotaExceededException (400) and every other 4xx: the request cannot succeed as sent.
 *  - Either throttle on a call sent on the flex tier is the service shedding flex first (the
 *    emulator's rule, docs/bedrock-fidelity.md; Bedrock: "During periods of high demand, Flex
 *    requests receive lower priority"): still MODEL_THROTTLED, marked shedTier "flex" so the
 *    retry loop can move a deadline-bound call to default (tierAfterShed).
 * No Bedrock 429 carries retry-after (aws-samples/amazon-bedrock-client-for-mac#99); when some
 * endpoint sends one it is kept as information only.
 */
const throttled = new Set(["ThrottlingException", "TooManyRequestsException"]);
const unavailable = new Set(["ServiceUnavailableException", "ModelNotReadyException", "InternalServerException"]);
const timeout = new Set(["ModelTimeoutException", "TimeoutError", "RequestTimeout", "AbortError"]);
const rejected = new Set(["ValidationException", "AccessDeniedException", "ResourceNotFoundException", "UnrecognizedClientException", "ServiceQuotaExceededException"]);
const DAILY_QUOTA = /too many tokens per day/i;
const TOO_MANY_CONNECTIONS = /too many connections/i;

/**
 * Classify an SDK error once: this is the only place that decides which Bedrock failures are
 * retryable. `sentTier`: the service tier the call was sent on, when it had one.
 */
export function toModelCallError(modelId: string, error: unknown, now: number = Date.now(), sentTier?: ServiceTier): ModelCallError {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number }; $response?: { headers?: Record<string, string> } };
  const name = e.name ?? "Error";
  const text = e.message ?? String(error);
  const message = `${name} from ${modelId}: ${text}`;
  const retryAfter = Number(e.$response?.headers?.["retry-after"]);
  const options = { cause: error, retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : undefined };
  if (throttled.has(name) && DAILY_QUOTA.test(text)) {
    return new ModelCallError("MODEL_QUOTA_EXHAUSTED", modelId, message, { ...options, resetsAt: nextDailyReset(now) });
  }
  const shed = sentTier === "flex" ? { shedTier: "flex" as const } : {};
  const throttledMessage = sentTier === "flex" ? `${message} (flex tier: shed under load)` : message;
  if (throttled.has(name)) return new ModelCallError("MODEL_THROTTLED", modelId, throttledMessage, { ...options, ...shed });
  if (name === "ServiceUnavailableException" && TOO_MANY_CONNECTIONS.test(text)) return new ModelCallError("MODEL_THROTTLED", modelId, throttledMessage, { ...options, ...shed });
  if (unavailable.has(name)) return new ModelCallError("MODEL_UNAVAILABLE", modelId, message, options);
  if (timeout.has(name)) return new ModelCallError("MODEL_TIMEOUT", modelId, message, options);
  if (rejected.has(name)) return new ModelCallError("MODEL_REJECTED_REQUEST", modelId, message, options);
  if (name === "ModelErrorException") return new ModelCallError("MODEL_ERROR", modelId, message, options);
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 400 && status < 500) return new ModelCallError("MODEL_REJECTED_REQUEST", modelId, message, options);
  // Network failures (ECONNREFUSED, ECONNRESET, ...) and anything unknown: the service may answer later.
  return new ModelCallError("MODEL_UNAVAILABLE", modelId, message, options);
}

/**
 * When a spent daily quota is expected back. Bedrock does not say when its tokens-per-day
 * window resets; the next 00:00 UTC is assumed (unconfirmed), and the limiter re-probes then.
 */
export function nextDailyReset(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
}
