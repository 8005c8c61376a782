import { CommanderError } from "commander";
import { ConfigError, LabelqError } from "../core/errors/errors.ts";

/** Node's system error codes for a peer that cannot be reached. */
const UNREACHABLE = new Set(["ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"]);

/** The network failure under an error (the SDK wraps some), with the host it was for; undefined for anything else. */
export function networkFailure(error: unknown): { code: string; host: string | undefined } | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const { code, hostname, address } = e as { code?: unknown; hostname?: unknown; address?: unknown };
    if (typeof code === "string" && UNREACHABLE.has(code)) {
      const host = typeof hostname === "string" ? hostname : typeof address === "string" ? address : /(?:ENOTFOUND|EAI_AGAIN) (\S+)/.exec(e.message)?.[1];
      return { code, host };
    }
  }
  return undefined;
}

/**
 * One line for an error that ends a command: what went wrong and, where labelq knows it, what to
 * do. Never a stack: `--debug` (or LOG_LEVEL=debug) prints that separately.
 */
export function describeError(error: unknown): string {
  // Each configuration problem in the one line, so a user sees all of them at once.
  if (error instanceof ConfigError) return `${error.code}: invalid configuration: ${error.issues.join("; ")}`;
  if (error instanceof LabelqError) return `${error.code}: ${error.message}`;
  if (error instanceof AggregateError && error.errors.length > 0) {
    const more = error.errors.length - 1;
    return `${describeError(error.errors[0])}${more > 0 ? ` (and ${more} more)` : ""}`;
  }
  if (error instanceof CommanderError) return error.message;
  if (!(error instanceof Error)) return String(error);
  const name = error.name;
  if (name === "CredentialsProviderError") {
    return "no AWS credentials found (environment, profile or instance role). Against `labelq local` any value works: export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test";
  }
  const network = networkFailure(error);
  if (network) {
    return `cannot reach ${network.host ?? "the service"} (${network.code}): check the endpoint variables (AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_BEDROCK_RUNTIME) and that the service is running`;
  }
  const code = (error as { code?: unknown }).code;
  if (code === "ENOENT" || code === "EACCES" || code === "EISDIR") return firstLine(error.message);
  // AWS SDK service errors carry their exception name (QueueDoesNotExist, AccessDeniedException...).
  const prefix = name && name !== "Error" ? `${name}: ` : "";
  return `${prefix}${firstLine(error.message)}`;
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? text;
}
