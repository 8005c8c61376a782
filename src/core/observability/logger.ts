import { createRequire } from "node:module";
import pino, { type Logger } from "pino";
import type { Config } from "../config/config.ts";
import { censorMessage, type RedactOptions, redactLogObject, redactSerializedError } from "./redact.ts";

/**
 * The process's one logger. Logs go to stderr so stdout stays free for command output
 * (JSON lines of `labelq local`, results of `collect`).
 *
 * Secrets are redacted always, user texts unless LABELQ_LOG_TEXTS is on, at any depth of the
 * logged object, the child bindings and the `err` serializer's output (with its cause chain);
 * redact.ts states which keys and which error-message content (the rule for messages).
 */
export function createLogger(log: Config["log"], destination?: pino.DestinationStream): Logger {
  const redaction: RedactOptions = { logTexts: log.logTexts, serializeError: pino.stdSerializers.err };
  const options: pino.LoggerOptions = {
    level: log.level,
    base: { service: "labelq" },
    serializers: { err: (error: unknown) => redactSerializedError(pino.stdSerializers.err(error as Error), redaction) },
    formatters: {
      // Runs before the serializers: `err` is left to its serializer above.
      log: (object) => redactLogObject(object, redaction, "err"),
    },
    hooks: {
      // `logger.error(err)` or `logger.error({ err })` without a message: pino would log
      // err.message as the line's msg, past the serializer; give it the censored one instead.
      logMethod(args, method) {
        if (args.length === 1 && typeof args[0] === "object" && args[0] !== null) {
          const first = args[0] as { err?: unknown; msg?: unknown };
          const error = first instanceof Error ? first : first.msg === undefined ? first.err : undefined;
          if (error instanceof Error) return method.call(this, first, censorMessage(error.message, log.logTexts));
        }
        return method.apply(this, args);
      },
    },
  };
  if (destination) return redactChildBindings(pino(options, destination), redaction);
  // pino-pretty is a dev dependency: production images run with it absent, even on a TTY.
  if ((log.pretty ?? process.stderr.isTTY) && prettyAvailable()) {
    return redactChildBindings(pino({ ...options, transport: { target: "pino-pretty", options: { destination: 2 } } }), redaction);
  }
  return redactChildBindings(pino(options, pino.destination(2)), redaction);
}

/**
 * pino applies no formatter to a child's bindings (it resets formatters.bindings for children),
 * so `child` is wrapped once on the root; children are created from their parent's prototype
 * chain and inherit the wrapper.
 */
function redactChildBindings(logger: Logger, redaction: RedactOptions): Logger {
  type ChildOf = (this: Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions) => Logger;
  const { child } = Object.getPrototypeOf(logger) as { child: ChildOf };
  const wrapped: ChildOf = function (bindings, options) {
    return child.call(this, redactLogObject(bindings, redaction), options);
  };
  logger.child = wrapped as unknown as Logger["child"];
  return logger;
}

function prettyAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve("pino-pretty");
    return true;
  } catch {
    return false;
  }
}
