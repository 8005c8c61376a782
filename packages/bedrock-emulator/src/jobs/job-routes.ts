import type { EmulatorResponse } from "../converse-handler.ts";
import { controlError, controlErrorResponse, isControlError, jsonResponse } from "./control-plane-errors.ts";
import { parseCreateJobBody, parseJobIdentifier, parseListQuery } from "./job-request.ts";
import type { JobStore } from "./job-store.ts";

// The REST paths @aws-sdk/client-bedrock uses (its service model: CreateModelInvocationJob,
// GetModelInvocationJob, ListModelInvocationJobs, StopModelInvocationJob).
const JOB_PATH = /^\/model-invocation-job\/([^/]+)$/;
const STOP_PATH = /^\/model-invocation-job\/([^/]+)\/stop$/;

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** Answers the model invocation job operations; undefined when the method and path are none of them. */
export function handleJobRoute(store: JobStore, method: string, url: string, body: string, region: string, requestId: string): EmulatorResponse | undefined {
  const [path = url, query = ""] = url.split("?", 2);
  if (method === "POST" && path === "/model-invocation-job") {
    const request = parseCreateJobBody(body);
    if (isControlError(request)) return controlErrorResponse(request, requestId);
    const created = store.create(request, region);
    return isControlError(created) ? controlErrorResponse(created, requestId) : jsonResponse(200, created, requestId);
  }
  if (method === "GET" && path === "/model-invocation-jobs") {
    const parsed = parseListQuery(new URLSearchParams(query));
    if (isControlError(parsed)) return controlErrorResponse(parsed, requestId);
    const listed = store.list(parsed);
    if (isControlError(listed)) return controlErrorResponse(listed, requestId);
    return jsonResponse(200, { invocationJobSummaries: listed.jobs, ...(listed.nextToken === undefined ? {} : { nextToken: listed.nextToken }) }, requestId);
  }
  const stop = method === "POST" ? STOP_PATH.exec(path) : null;
  const get = method === "GET" ? JOB_PATH.exec(path) : null;
  const segment = stop?.[1] ?? get?.[1];
  if (segment === undefined) return undefined;
  const id = parseJobIdentifier(decode(segment) ?? segment);
  if (typeof id !== "string") return controlErrorResponse(id, requestId);
  if (stop !== null) {
    const refused = store.stop(id);
    return refused === undefined ? jsonResponse(200, {}, requestId) : controlErrorResponse(refused, requestId);
  }
  const job = store.get(id);
  if (job === undefined) return controlErrorResponse(controlError("ResourceNotFoundException", `The model invocation job ${id} was not found.`), requestId);
  return jsonResponse(200, job, requestId);
}
