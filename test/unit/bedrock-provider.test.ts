import {
  AccessDeniedException,
  type BedrockRuntimeClient,
  ConverseCommand,
  InternalServerException,
  ModelErrorException,
  ModelNotReadyException,
  ModelTimeoutException,
  ResourceNotFoundException,
  ServiceUnavailableException,
  ThrottlingException,
  ValidationException,
} from "@aws-sdk/client-bedrock-runtime";
import { describe, expect, it } from "vitest";
import { ModelCallError, isRetryable } from "../../src/core/errors/errors.ts";
import { BedrockProvider, nextDailyReset, toModelCallError } from "../../src/adapters/bedrock/bedrock-provider.ts";
import type { ModelRequest } from "../../src/core/models/model-provider.ts";
import { rejection } from "../support/fakes.ts";

const MODEL = "meta.llama3-70b-instruct-v1:0";
const $metadata = { httpStatusCode: 400 };

/** Attach the raw HTTP response the SDK puts on service errors. */
function withHeaders<E extends object>(error: E, headers: Record<string, string>): E {
  return Object.assign(error, { $response: { statusCode: 429, headers } });
}

describe("toModelCallError", () => {
  it("maps ThrottlingException to MODEL_THROTTLED, retryable, with retry-after from $response.headers", () => {
    const sdkError = withHeaders(new ThrottlingException({ message: "Too many requests", $metadata }), { "retry-after": "7" });
    const e = toModelCallError(MODEL, sdkError);
    expect(e).toBeInstanceOf(ModelCallError);
    expect(e.code).toBe("MODEL_THROTTLED");
    expect(e.retryable).toBe(true);
    expect(e.retryAfterSeconds).toBe(7);
    expect(e.modelId).toBe(MODEL);
    expect(e.cause).toBe(sdkError);
    expect(e.message).toBe(`ThrottlingException from ${MODEL}: Too many requests`);
  });

  it("leaves retryAfterSeconds undefined when there is no retry-after header or it is not a number", () => {
    expect(toModelCallError(MODEL, new ThrottlingException({ message: "slow down", $metadata })).retryAfterSeconds).toBeUndefined();
    const dated = withHeaders(new ThrottlingException({ message: "slow down", $metadata }), { "retry-after": "Wed, 21 Oct 2026 07:28:00 GMT" });
    expect(toModelCallError(MODEL, dated).retryAfterSeconds).toBeUndefined();
  });

  it("treats TooManyRequestsException as throttling, and ServiceQuotaExceededException as a request that cannot succeed", () => {
    expect(toModelCallError(MODEL, Object.assign(new Error("quota"), { name: "TooManyRequestsException" })).code).toBe("MODEL_THROTTLED");
    const quota = toModelCallError(MODEL, Object.assign(new Error("quota"), { name: "ServiceQuotaExceededException", $metadata }));
    expect(quota.code).toBe("MODEL_REJECTED_REQUEST");
    expect(quota.retryable).toBe(false);
  });

  it("gives a spent daily quota its own code, expected back at the next 00:00 UTC", () => {
    const now = Date.UTC(2026, 10, 30, 4, 41);
    const e = toModelCallError(MODEL, new ThrottlingException({ message: "Too many tokens per day, please wait before trying again.", $metadata }), now);
    expect(e.code).toBe("MODEL_QUOTA_EXHAUSTED");
    expect(e.retryable).toBe(true);
    expect(e.resetsAt).toBe(Date.UTC(2026, 11, 1));
    expect(nextDailyReset(Date.UTC(2026, 11, 31, 23, 59))).toBe(Date.UTC(2027, 0, 1));
  });

  it("treats 503 \"Too many connections\" as a throttle (load shedding), not as the model being unavailable", () => {
    const e = toModelCallError(MODEL, new ServiceUnavailableException({ message: "Too many connections, please wait before trying again.", $metadata }));
    expect(e.code).toBe("MODEL_THROTTLED");
    expect(e.retryable).toBe(true);
  });

  it("does not retry an unknown 4xx error", () => {
    const e = toModelCallError(MODEL, Object.assign(new Error("teapot"), { name: "SomeNewException", $metadata: { httpStatusCode: 418 } }));
    expect(e.code).toBe("MODEL_REJECTED_REQUEST");
    expect(e.retryable).toBe(false);
  });

  it("maps ServiceUnavailableException, ModelNotReadyException and InternalServerException to MODEL_UNAVAILABLE, retryable", () => {
    for (const sdkError of [
      new ServiceUnavailableException({ message: "down", $metadata }),
      new ModelNotReadyException({ message: "warming up", $metadata }),
      new InternalServerException({ message: "oops", $metadata }),
    ]) {
      const e = toModelCallError(MODEL, sdkError);
      expect(e.code, sdkError.name).toBe("MODEL_UNAVAILABLE");
      expect(e.retryable, sdkError.name).toBe(true);
    }
  });

  it("maps ValidationException, AccessDeniedException and ResourceNotFoundException to MODEL_REJECTED_REQUEST, not retryable", () => {
    for (const sdkError of [
      new ValidationException({ message: "max_tokens too large", $metadata }),
      new AccessDeniedException({ message: "no access to model", $metadata }),
      new ResourceNotFoundException({ message: "no such model", $metadata }),
    ]) {
      const e = toModelCallError(MODEL, sdkError);
      expect(e.code, sdkError.name).toBe("MODEL_REJECTED_REQUEST");
      expect(e.retryable, sdkError.name).toBe(false);
      expect(isRetryable(e)).toBe(false);
    }
  });

  it("maps ModelTimeoutException and SDK timeouts/aborts to MODEL_TIMEOUT, retryable", () => {
    const e = toModelCallError(MODEL, new ModelTimeoutException({ message: "took too long", $metadata }));
    expect(e.code).toBe("MODEL_TIMEOUT");
    expect(e.retryable).toBe(true);
    for (const name of ["TimeoutError", "AbortError"]) {
      expect(toModelCallError(MODEL, Object.assign(new Error("t"), { name })).code, name).toBe("MODEL_TIMEOUT");
    }
  });

  it("maps ModelErrorException to MODEL_ERROR, retryable", () => {
    const e = toModelCallError(MODEL, new ModelErrorException({ message: "model failed", $metadata }));
    expect(e.code).toBe("MODEL_ERROR");
    expect(e.retryable).toBe(true);
  });

  it("treats an unknown network error as retryable", () => {
    const network = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:4000"), { code: "ECONNREFUSED" });
    const e = toModelCallError(MODEL, network);
    expect(e.code).toBe("MODEL_UNAVAILABLE");
    expect(e.retryable).toBe(true);
    expect(e.message).toBe(`Error from ${MODEL}: connect ECONNREFUSED 127.0.0.1:4000`);
  });

  it("handles a thrown value that is not an Error", () => {
    const e = toModelCallError(MODEL, "socket hang up");
    expect(e.retryable).toBe(true);
    expect(e.message).toContain("socket hang up");
  });
});

describe("BedrockProvider.converse", () => {
  const request: ModelRequest = {
    modelId: MODEL,
    system: "You label texts.",
    user: '{"i":1,"t":"hi"}',
    inference: { temperature: 0.2, topP: 0.8, maxTokens: 512 },
    format: "json",
  };

  /** A BedrockRuntimeClient stand-in whose send() is scripted; records the commands sent. */
  function fakeClient(send: (command: ConverseCommand) => Promise<unknown>): { client: BedrockRuntimeClient; sent: ConverseCommand[]; signals: unknown[] } {
    const sent: ConverseCommand[] = [];
    const signals: unknown[] = [];
    const client = {
      send: (command: ConverseCommand, options?: { abortSignal?: AbortSignal }) => {
        sent.push(command);
        signals.push(options?.abortSignal);
        return send(command);
      },
    } as unknown as BedrockRuntimeClient;
    return { client, sent, signals };
  }

  it("sends one Converse call with the system prompt, the user turn and the inference parameters", async () => {
    const { client, sent, signals } = fakeClient(() =>
      Promise.resolve({
        output: { message: { role: "assistant", content: [{ text: '{"r":' }, { text: "[]}" }] } },
        stopReason: "max_tokens",
        usage: { inputTokens: 12, outputTokens: 3, totalTokens: 15 },
      }),
    );
    const abort = new AbortController();
    const response = await new BedrockProvider(client).converse(request, abort.signal);
    expect(response).toEqual({ text: '{"r":[]}', stopReason: "max_tokens", usage: { inputTokens: 12, outputTokens: 3 } });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toBeInstanceOf(ConverseCommand);
    expect(sent[0]?.input).toEqual({
      modelId: MODEL,
      system: [{ text: "You label texts." }],
      messages: [{ role: "user", content: [{ text: '{"i":1,"t":"hi"}' }] }],
      inferenceConfig: { maxTokens: 512, temperature: 0.2, topP: 0.8 },
    });
    expect(signals[0]).toBe(abort.signal);
  });

  it("sends only the sampling parameters present, so a one-of model never gets both", async () => {
    const { client, sent } = fakeClient(() => Promise.resolve({}));
    await new BedrockProvider(client).converse({ ...request, inference: { topP: 0.8, maxTokens: 64 } });
    expect(sent[0]?.input.inferenceConfig).toStrictEqual({ maxTokens: 64, topP: 0.8 });
  });

  it("defaults a missing answer, stop reason and usage", async () => {
    const { client } = fakeClient(() => Promise.resolve({}));
    expect(await new BedrockProvider(client).converse(request)).toEqual({ text: "", stopReason: "end_turn", usage: { inputTokens: 0, outputTokens: 0 } });
  });

  it("turns an SDK failure into a ModelCallError", async () => {
    const { client } = fakeClient(() => Promise.reject(new ValidationException({ message: "bad", $metadata })));
    const error = await rejection(new BedrockProvider(client).converse(request));
    expect(error).toBeInstanceOf(ModelCallError);
    expect((error as ModelCallError).code).toBe("MODEL_REJECTED_REQUEST");
  });
});
