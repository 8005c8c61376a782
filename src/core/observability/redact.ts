/**
 * Log redaction at any depth. pino's `redact` (fast-redact) matches fixed paths only (`*.text`
 * is one level deep), so a text nested in `req.batch.items[]` or an AWS error's `$response`
 * would reach the log. This walks the logged object by key name instead.
 *
 * Cost: the walk allocates nothing for an object that holds nothing to redact (copy on write:
 * only the objects on the path to a redacted value are copied, never the logged object itself);
 * cycles and runaway depth end at MAX_DEPTH without a visited set.
 *
 * Error messages (the rule): labelq's own errors never put a text into a message; they name an
 * item by its id or position (parse-request-message.ts drops V8's JSON.parse message, which
 * quotes the body; zod issues name the path, not the value). Messages of other libraries may
 * quote their input, and they do it in quotes, so when texts are not logged every message-like
 * string (an error's message and stack, with its causes, and `message`, `reason`, `error`
 * fields) loses the quoted content of two known shapes:
 *   - V8's JSON.parse snippet: `Unexpected token 'x', "Love the c"... is not valid JSON`;
 *   - a double-quoted run that looks like prose (it holds whitespace or is over 64 characters).
 * Short quoted words (an id, a model alias, a flag value) stay: they are what makes the message
 * useful, and are not texts. Credentials in URLs (`redis://:pw@host`) are masked always.
 *
 * ioredis attaches the failed command to a reply error (`command: { name, args }`): the arguments
 * of AUTH and HELLO hold the password (a refused LABELQ_REDIS_AUTH_TOKEN), so they are redacted.
 */

/** Keys whose values are secrets: redacted always, whatever their type or depth. */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  "secretAccessKey",
  "SecretAccessKey",
  "sessionToken",
  "SessionToken",
  "accessKeyId",
  "AccessKeyId",
  "password",
  "Password",
  "authorization",
  "Authorization",
  "x-amz-security-token",
  "X-Amz-Security-Token",
  "redisUrl",
  // Environment variables that hold a secret (config's SECRET_VARIABLES; a Redis URL may hold a password), should an environment be logged.
  "LABELQ_REDIS_AUTH_TOKEN",
  "LABELQ_REDIS_URL",
  "credentials",
  "Credentials",
  "apiKey",
]);

/**
 * Keys whose values carry user texts (request items, prompts, model answers, message and object
 * bodies, producer metadata): redacted unless LABELQ_LOG_TEXTS is on. A number or boolean under
 * one of them is a count (`texts: 12`), not a text, and stays.
 */
export const TEXT_KEYS: ReadonlySet<string> = new Set([
  "text",
  "texts",
  "body",
  "Body",
  "MessageBody",
  "user",
  "system",
  "prompt",
  "content",
  "inputText",
  "outputText",
  "answer",
  "completion",
  "generation",
  "modelInput",
  "modelOutput",
  "metadata",
  "attributes",
]);

/** Keys whose string values are messages: their quoted content is censored when texts are off. */
const MESSAGE_KEYS: ReadonlySet<string> = new Set(["message", "reason", "error", "errorMessage", "stack", "msg"]);

/** Redis commands whose arguments hold a password (AUTH user pass, HELLO 3 AUTH user pass). */
const CREDENTIAL_COMMANDS: ReadonlySet<string> = new Set(["auth", "hello"]);

export const CENSOR = "[redacted]";
const MAX_DEPTH = 12;
const TOO_DEEP = "[too deep]";
const CIRCULAR = "[Circular]";

// V8 quotes the whole source when short, else about 10 characters each side of the error; the
// snippet may hold quotes and newlines, so it is bounded by length, after V8's `, ` or `: `.
const JSON_SNIPPET = /(^|, |: )(?:\.\.\.)?"[\s\S]{0,80}?"(?:\.\.\.)? is not valid JSON/gm;
const QUOTED = /"[^"\n]*"/g;
const PROSE = /\s/;
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi;

/** Options of one redaction: whether texts are logged, and how an Error found in the object is serialized. */
export interface RedactOptions {
  logTexts: boolean;
  /** Turns an Error into a plain object (pino's err serializer); the result is redacted in place. */
  serializeError: (error: Error) => Record<string, unknown>;
}

/** A message with credentials in URLs masked and, when texts are off, quoted texts censored. */
export function censorMessage(message: string, logTexts: boolean): string {
  let out = message.includes("@") ? message.replace(URL_CREDENTIALS, `$1${CENSOR}@`) : message;
  if (logTexts || !out.includes('"')) return out;
  out = out.replace(JSON_SNIPPET, `$1"${CENSOR}" is not valid JSON`);
  return out.replace(QUOTED, (quoted) => (quoted.length > 66 || PROSE.test(quoted) ? `"${CENSOR}"` : quoted));
}

/**
 * The logged object with secrets (always) and texts (unless logTexts) redacted at any depth,
 * Errors serialized and their messages censored. Returns `value` itself when nothing changed.
 * `skipKey` is left alone at the top level (pino's err serializer redacts it after this runs).
 */
export function redactLogObject<T>(value: T, options: RedactOptions, skipKey?: string): T {
  return walk(value, options, 0, false, skipKey) as T;
}

/** A serialized error (a fresh object from the err serializer) redacted in place; returns it. */
export function redactSerializedError(serialized: unknown, options: RedactOptions): unknown {
  return redactErrorAt(serialized, options, 0);
}

function redactErrorAt(serialized: unknown, options: RedactOptions, depth: number): unknown {
  if (typeof serialized !== "object" || serialized === null) return walk(serialized, options, depth, true);
  if (depth >= MAX_DEPTH) return TOO_DEEP;
  const target = serialized as Record<string, unknown>;
  ancestors[depth] = target;
  for (const key in target) {
    if (!Object.hasOwn(target, key)) continue;
    const before = target[key];
    const after = redactEntry(key, before, options, depth + 1, true);
    if (after !== before) target[key] = after;
  }
  return target;
}

// Objects on the current path, by depth: cycle detection without allocating a set per line.
// Logging is synchronous; a nested call (a getter that logs) can only overwrite slots, and
// MAX_DEPTH still ends the walk.
const ancestors: unknown[] = [];

function walk(value: unknown, options: RedactOptions, depth: number, inError: boolean, skipKey?: string): unknown {
  if (typeof value === "string") return inError ? censorMessage(value, options.logTexts) : value;
  if (typeof value !== "object" || value === null) return value;
  if (depth >= MAX_DEPTH) return TOO_DEEP;
  for (let i = 0; i < depth; i++) if (ancestors[i] === value) return CIRCULAR;
  if (value instanceof Error) return redactErrorAt(options.serializeError(value), options, depth);
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
    // JSON.stringify writes what toJSON returns (a Date's string, a class's plain form).
    const json: unknown = (value as { toJSON: () => unknown }).toJSON();
    if (typeof json !== "object" || json === null) return value;
    const redacted = walk(json, options, depth, inError);
    return redacted === json ? value : redacted;
  }
  ancestors[depth] = value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const before: unknown = value[i];
      const after = walk(before, options, depth + 1, inError);
      if (after !== before) {
        copy ??= value.slice();
        copy[i] = after;
      }
    }
    return copy ?? value;
  }
  const record = value as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const key in record) {
    if (!Object.hasOwn(record, key) || (depth === 0 && key === skipKey)) continue;
    const before = record[key];
    const after = redactEntry(key, before, options, depth + 1, inError);
    if (after !== before) {
      copy ??= { ...record };
      copy[key] = after;
    }
  }
  return copy ?? value;
}

/** One property's value, judged by its key first, then walked. */
function redactEntry(key: string, value: unknown, options: RedactOptions, depth: number, inError: boolean): unknown {
  if (value === undefined || value === null) return value;
  if (SECRET_KEYS.has(key)) return CENSOR;
  if (key === "command" && isCredentialCommand(value)) return { ...value, args: CENSOR };
  if (!options.logTexts && TEXT_KEYS.has(key) && typeof value !== "number" && typeof value !== "boolean") return CENSOR;
  if (typeof value === "string") return inError || MESSAGE_KEYS.has(key) ? censorMessage(value, options.logTexts) : value;
  return walk(value, options, depth, inError);
}

/** An ioredis command (`{ name, args }`) whose arguments hold a password. */
function isCredentialCommand(value: unknown): value is { name: string; args: unknown } {
  if (typeof value !== "object" || value === null) return false;
  const { name, args } = value as { name?: unknown; args?: unknown };
  return typeof name === "string" && CREDENTIAL_COMMANDS.has(name.toLowerCase()) && args !== undefined;
}
