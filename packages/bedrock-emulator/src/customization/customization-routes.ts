import type { EmulatorResponse } from "../converse-handler.ts";
import { controlError, controlErrorResponse, isControlError, jsonResponse } from "../jobs/control-plane-errors.ts";
import { parseCreateCustomizationBody, parseListCustomizationQuery } from "./customization-request.ts";
import { CustomizationStore, type CustomizationStoreDeps } from "./customization-store.ts";

// The REST paths @aws-sdk/client-bedrock uses (its service model: CreateModelCustomizationJob
// POST /model-customization-jobs answering 201, GetModelCustomizationJob, ListModelCustomizationJobs,
// StopModelCustomizationJob).
const JOBS_PATH = "/model-customization-jobs";
const JOB_PATH = /^\/model-customization-jobs\/([^/]+)$/;
const STOP_PATH = /^\/model-customization-jobs\/([^/]+)\/stop$/;

// One customization store per emulator, keyed by the emulator's invocation job store (created and
// closed beside it), so the server registers it without threading it through every signature.
const stores = new WeakMap<object, CustomizationStore>();

/** Creates the model customization jobs of the emulator that owns `owner`. */
export function registerCustomizationJobs(owner: object, deps: CustomizationStoreDeps): CustomizationStore {
  const store = new CustomizationStore(deps);
  stores.set(owner, store);
  return store;
}

/** Stops the timers of `owner`'s customization jobs. */
export function closeCustomizationJobs(owner: object): void {
  stores.get(owner)?.close();
}

/** The customization jobs of `owner`'s emulator (for tests), if registered. */
export function customizationJobsOf(owner: object): CustomizationStore | undefined {
  return stores.get(owner);
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Answers the model customization job operations; undefined when the method and path are none of them. */
export function handleCustomizationRoute(owner: object, method: string, url: string, body: string, region: string, requestId: string): EmulatorResponse | undefined {
  const store = stores.get(owner);
  if (store === undefined) return undefined;
  const [path = url, query = ""] = url.split("?", 2);
  if (method === "POST" && path === JOBS_PATH) {
    const request = parseCreateCustomizationBody(body);
    if (isControlError(request)) return controlErrorResponse(request, requestId);
    const created = store.create(request, region);
    return isControlError(created) ? controlErrorResponse(created, requestId) : jsonResponse(201, created, requestId);
  }
  if (method === "GET" && path === JOBS_PATH) {
    const parsed = parseListCustomizationQuery(new URLSearchParams(query));
    if (isControlError(parsed)) return controlErrorResponse(parsed, requestId);
    const listed = store.list(parsed);
    if (isControlError(listed)) return controlErrorResponse(listed, requestId);
    return jsonResponse(200, { modelCustomizationJobSummaries: listed.summaries, ...(listed.nextToken === undefined ? {} : { nextToken: listed.nextToken }) }, requestId);
  }
  const stop = method === "POST" ? STOP_PATH.exec(path) : null;
  const get = method === "GET" ? JOB_PATH.exec(path) : null;
  const segment = stop?.[1] ?? get?.[1];
  if (segment === undefined) return undefined;
  const id = decode(segment);
  if (stop !== null) {
    const refused = store.stop(id);
    return refused === undefined ? jsonResponse(200, {}, requestId) : controlErrorResponse(refused, requestId);
  }
  const job = store.get(id);
  if (job === undefined) return controlErrorResponse(controlError("ResourceNotFoundException", `The model customization job ${id} was not found.`), requestId);
  return jsonResponse(200, job, requestId);
}
