import type { EmulatorResponse } from "../converse-handler.ts";

/**
 * Errors of the Bedrock control plane's model invocation job operations, with the statuses
 * @aws-sdk/client-bedrock's service model declares (ConflictException and
 * ServiceQuotaExceededException are 400, not 409/402).
 */
export const CONTROL_ERRORS = {
  ValidationException: 400,
  ConflictException: 400,
  ServiceQuotaExceededException: 400,
  AccessDeniedException: 403,
  ResourceNotFoundException: 404,
  UnknownOperationException: 404,
  ThrottlingException: 429,
  InternalServerException: 500,
} as const;

export type ControlErrorName = keyof typeof CONTROL_ERRORS;

export interface ControlError {
  error: ControlErrorName;
  message: string;
}

export function controlError(error: ControlErrorName, message: string): ControlError {
  return { error, message };
}

export function isControlError(value: object): value is ControlError {
  return "error" in value && "message" in value && typeof (value as { error: unknown }).error === "string";
}

/** One failed constraint, worded as the service's (Coral) validation messages are. */
export interface ConstraintFailure {
  /** The member, e.g. "jobName" or "inputDataConfig.s3InputDataConfig.s3Uri". */
  at: string;
  value: unknown;
  constraint: string;
}

/** "1 validation error detected: Value 'x' at 'jobName' failed to satisfy constraint: Member must ..." (several joined with "; "). */
export function validationError(failures: readonly ConstraintFailure[]): ControlError {
  const parts = failures.map((f) => `Value '${typeof f.value === "string" ? f.value : JSON.stringify(f.value)}' at '${f.at}' failed to satisfy constraint: ${f.constraint}`);
  const count = `${failures.length} validation error${failures.length === 1 ? "" : "s"} detected`;
  return controlError("ValidationException", `${count}: ${parts.join("; ")}`);
}

/** The error as the SDK reads it: status, x-amzn-errortype, {"message"}. */
export function controlErrorResponse(error: ControlError, requestId: string): EmulatorResponse {
  return {
    status: CONTROL_ERRORS[error.error],
    headers: {
      "content-type": "application/json",
      "x-amzn-errortype": `${error.error}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
      "x-amzn-requestid": requestId,
    },
    body: JSON.stringify({ message: error.message }),
    delayMs: 0,
  };
}

export function jsonResponse(status: number, body: unknown, requestId: string): EmulatorResponse {
  return { status, headers: { "content-type": "application/json", "x-amzn-requestid": requestId }, body: JSON.stringify(body), delayMs: 0 };
}
