import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/core/observability/logger.ts";
import { censorMessage, redactLogObject } from "../../src/core/observability/redact.ts";

const TEXT_A = "SECRET-TEXT-a1 my card is 4111 1111 1111 1111";
const TEXT_B = "SECRET-TEXT-b2 call me on 555 0100";
const TEXT_C = "SECRET-TEXT-c3 the delivery was late";
const SECRET = "SECRET-KEY-wJalrXUtnFEMI";

/** A logger at trace level writing each JSON line into `lines`. */
function capture(logTexts: boolean): { logger: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[]; raw: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ level: "trace", logTexts }, stream);
  return {
    logger,
    lines: () => chunks.join("").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>),
    raw: () => chunks.join(""),
  };
}

/** The same log calls for both settings: nested texts, an array of texts, a deep secret, an error quoting a text. */
function logEverything(logger: ReturnType<typeof createLogger>): void {
  logger.info({ req: { batch: { batchId: "b-1", items: [{ id: "r-1", text: TEXT_A }, { id: "r-2", text: TEXT_B }] } }, texts: 2 }, "nested");
  logger.info({ model: "llama3.3-70b", sample: { texts: [TEXT_A, TEXT_C] }, items: 3 }, "array");
  logger.info({ config: { aws: { creds: { secretAccessKey: SECRET, region: "eu-west-1" } } }, outer: { inner: { deeper: { password: SECRET } } } }, "secret");
  const cause = new Error(`Unexpected token 'S', "${TEXT_C}"... is not valid JSON`);
  const error = Object.assign(new Error(`ValidationException: input "${TEXT_B}" is too long`, { cause }), {
    code: "MODEL_REJECTED_REQUEST",
    $response: { statusCode: 400, body: TEXT_A, headers: { authorization: SECRET } },
  });
  logger.warn({ err: error, batchId: "b-1", retryInSeconds: 30 }, "batch failed");
  logger.error(new Error(`bad answer "${TEXT_A}"`));
  logger.child({ batchId: "b-2", request: { user: TEXT_B } }).child({ messageId: "m-1", sqs: { MessageBody: TEXT_C } }).info({ attempt: 1 }, "child");
  logger.warn({ reason: `The message body is not JSON: "${TEXT_C}"`, nested: { error: new Error(`wrapped "${TEXT_B}"`) } }, "dlq");
}

describe("log redaction", () => {
  it("keeps texts and secrets out of every line, at any depth and in error messages, when texts are off", () => {
    const { logger, lines, raw } = capture(false);
    logEverything(logger);
    const all = raw();
    for (const marker of ["SECRET-TEXT-a1", "SECRET-TEXT-b2", "SECRET-TEXT-c3", "4111", "555 0100", SECRET]) expect(all).not.toContain(marker);

    const [nested, array, secret, failed, bare, child, dlq] = lines();
    expect(nested).toMatchObject({ msg: "nested", texts: 2, req: { batch: { batchId: "b-1", items: [{ id: "r-1", text: "[redacted]" }, { id: "r-2", text: "[redacted]" }] } } });
    expect(array).toMatchObject({ model: "llama3.3-70b", items: 3, sample: { texts: "[redacted]" } });
    expect(secret).toMatchObject({ config: { aws: { creds: { secretAccessKey: "[redacted]", region: "eu-west-1" } } }, outer: { inner: { deeper: { password: "[redacted]" } } } });
    expect(failed).toMatchObject({ batchId: "b-1", retryInSeconds: 30, err: { type: "Error", code: "MODEL_REJECTED_REQUEST", $response: { statusCode: 400, body: "[redacted]", headers: { authorization: "[redacted]" } } } });
    const err = failed!.err as { message: string; stack: string };
    expect(err.message).toBe('ValidationException: input "[redacted]" is too long: Unexpected token \'S\', "[redacted]" is not valid JSON');
    expect(err.stack).toContain("caused by: Error: Unexpected token 'S'");
    expect(bare).toMatchObject({ msg: 'bad answer "[redacted]"', err: { message: 'bad answer "[redacted]"' } });
    expect(child).toMatchObject({ batchId: "b-2", messageId: "m-1", attempt: 1, request: { user: "[redacted]" }, sqs: { MessageBody: "[redacted]" } });
    expect(dlq).toMatchObject({ reason: 'The message body is not JSON: "[redacted]"', nested: { error: { message: 'wrapped "[redacted]"' } } });
  });

  it("keeps texts when LABELQ_LOG_TEXTS is on, but never secrets", () => {
    const { logger, lines, raw } = capture(true);
    logEverything(logger);
    const all = raw();
    for (const marker of ["SECRET-TEXT-a1", "SECRET-TEXT-b2", "SECRET-TEXT-c3"]) expect(all).toContain(marker);
    expect(all).not.toContain(SECRET);
    expect(lines()[0]).toMatchObject({ req: { batch: { items: [{ id: "r-1", text: TEXT_A }, { id: "r-2", text: TEXT_B }] } } });
    expect(lines()[2]).toMatchObject({ config: { aws: { creds: { secretAccessKey: "[redacted]" } } } });
    expect((lines()[3]!.err as { message: string }).message).toContain(TEXT_B);
    expect(lines()[5]).toMatchObject({ request: { user: TEXT_B }, sqs: { MessageBody: TEXT_C } });
  });

  it("leaves an object with nothing to redact as it is, and ends cycles", () => {
    const options = { logTexts: false, serializeError: (e: Error) => ({ message: e.message }) };
    const clean = { batchId: "b-1", texts: 4, items: [{ id: "r-1", labels: { sentiment: "positive" } }], at: new Date(0) };
    expect(redactLogObject(clean, options)).toBe(clean);

    const cyclic: Record<string, unknown> = { id: "x", text: TEXT_A };
    cyclic.self = cyclic;
    const out = redactLogObject({ wrap: cyclic }, options);
    expect(out.wrap).toEqual({ id: "x", text: "[redacted]", self: "[Circular]" });
    expect(cyclic.text).toBe(TEXT_A);
  });

  it("censors prose in quotes and credentials in URLs, but keeps short quoted words", () => {
    expect(censorMessage('--model "llama3.3-70b" is not allowed; items.3 (id "r-4").text: too long', false)).toBe('--model "llama3.3-70b" is not allowed; items.3 (id "r-4").text: too long');
    expect(censorMessage('say "a" then "b c"', false)).toBe('say "a" then "[redacted]"');
    expect(censorMessage(`"${"x".repeat(80)}"`, false)).toBe('"[redacted]"');
    expect(censorMessage(`Unexpected token 'o', ..."{"text": "hi" oops}" is not valid JSON`, false)).toBe(`Unexpected token 'o', "[redacted]" is not valid JSON`);
    expect(censorMessage("connect to redis://:hunter2@cache:6379 failed", true)).toBe("connect to redis://[redacted]@cache:6379 failed");
    expect(censorMessage('quoted "b c"', true)).toBe('quoted "b c"');
  });
});
