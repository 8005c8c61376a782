import type { ErrorFaultKind } from "./types.ts";

/** Error names and HTTP statuses as the Bedrock runtime service model declares them. */
export const AWS_ERRORS = {
  ValidationException: 400,
  AccessDeniedException: 403,
  ThrottlingException: 429,
  ModelNotReadyException: 429,
  InternalServerException: 500,
  ServiceUnavailableException: 503,
  UnknownOperationException: 404,
} as const;

export type AwsErrorName = keyof typeof AWS_ERRORS;

/** An error answer the router turns into status + x-amzn-errortype + {"message"}. */
export interface AwsError {
  name: AwsErrorName;
  message: string;
  /** Seconds, sent as retry-after only when the emulator is told to (Bedrock sends none). */
  retryAfterSeconds?: number;
}

/** Builds an AWS-shaped error value. */
export function awsError(name: AwsErrorName, message: string, retryAfterSeconds?: number): AwsError {
  return retryAfterSeconds === undefined ? { name, message } : { name, message, retryAfterSeconds };
}

/** The error an injected error fault answers with, worded like the real service. */
export function errorForFault(kind: ErrorFaultKind): AwsError {
  switch (kind) {
    case "throttle":
      return awsError("ThrottlingException", "Too many requests, please wait before trying again.");
    case "unavailable":
      return awsError("ServiceUnavailableException", "The service is temporarily unable to handle the request. Try again later.");
    case "internal":
      return awsError("InternalServerException", "The server encountered an internal error. Try again later.");
    case "not-ready":
      return awsError("ModelNotReadyException", "The model is not ready to serve inference requests. Try again later.");
    case "validation":
      return awsError("ValidationException", "The provided request is not valid: input is too long for the requested model.");
  }
}

/** Headers of an error answer; the errortype suffix mimics what the service sends. */
export function errorHeaders(error: AwsError, requestId: string): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-amzn-errortype": `${error.name}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    "x-amzn-requestid": requestId,
  };
  if (error.retryAfterSeconds !== undefined) headers["retry-after"] = String(error.retryAfterSeconds);
  return headers;
}
