import { controlError, type ControlError } from "./control-plane-errors.ts";
import type { RepeatTokenAnswer } from "./job-settings.ts";

/** A created job as a repeated clientRequestToken finds it: the request it was made from, and its ARN. */
export interface TokenedJob {
  fingerprint: string;
  arn: string;
}

/**
 * The answer to a Create whose clientRequestToken was used before, or undefined when it was not.
 * The same parameters create nothing (API reference: "If this token matches a previous request,
 * Amazon Bedrock ignores the request, but does not return an error") and answer without a jobArn,
 * or with the first job's when `answer` is "original-arn" (undocumented); other parameters are a
 * ConflictException. `operation` names the Create call in the message.
 */
export function repeatedTokenAnswer(
  byToken: ReadonlyMap<string, TokenedJob>,
  token: string | undefined,
  fingerprint: string,
  operation: string,
  answer: RepeatTokenAnswer,
): { jobArn?: string } | ControlError | undefined {
  const existing = token === undefined ? undefined : byToken.get(token);
  if (existing === undefined) return undefined;
  if (existing.fingerprint !== fingerprint) {
    return controlError("ConflictException", `The clientRequestToken ${token} was already used for a different ${operation} request.`);
  }
  return answer === "original-arn" ? { jobArn: existing.arn } : {};
}
