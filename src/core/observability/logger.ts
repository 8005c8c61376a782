import { createRequire } from "node:module";
import pino, { type Logger } from "pino";
import type { Config } from "../config/config.ts";

/** Secrets never reach a log line, whatever object carries them. */
export const REDACT_PATHS = [
  "*.secretAccessKey",
  "*.sessionToken",
  "*.accessKeyId",
  "*.password",
  "*.authorization",
  "*.Authorization",
  "*.redisUrl",
  "*.credentials",
  "config.limiter.redisUrl",
];

/** Paths that hold user texts; redacted unless LABELQ_LOG_TEXTS is on. */
export const TEXT_PATHS = ["*.text", "*.texts", "*.items[*].text", "*.Body", "*.body", "*.user", "*.system"];

/**
 * The process's one logger. Logs go to stderr so stdout stays free for command output
 * (JSON lines of `labelq local`, results of `collect`).
 */
export function createLogger(log: Config["log"], destination?: pino.DestinationStream): Logger {
  const paths = log.logTexts ? REDACT_PATHS : [...REDACT_PATHS, ...TEXT_PATHS];
  const options: pino.LoggerOptions = {
    level: log.level,
    base: { service: "labelq" },
    redact: { paths, censor: "[redacted]" },
    serializers: { err: pino.stdSerializers.err },
  };
  if (destination) return pino(options, destination);
  // pino-pretty is a dev dependency: production images run with it absent, even on a TTY.
  if ((log.pretty ?? process.stderr.isTTY) && prettyAvailable()) {
    return pino({ ...options, transport: { target: "pino-pretty", options: { destination: 2 } } });
  }
  return pino(options, pino.destination(2));
}

function prettyAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve("pino-pretty");
    return true;
  } catch {
    return false;
  }
}
