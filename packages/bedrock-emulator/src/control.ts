import { controlBodySchema } from "./settings-schema.ts";
import type { EmulatorState } from "./state.ts";
import type { JobStore } from "./jobs/job-store.ts";

/** A control route's answer (always JSON). */
export interface ControlResponse {
  status: number;
  body: unknown;
}

/** Answers the /_emulator/* routes; undefined when the method and path are not one of them. */
export function handleControl(state: EmulatorState, method: string, path: string, rawBody: string, jobs?: JobStore): ControlResponse | undefined {
  if (method === "GET" && path === "/_emulator/stats") return { status: 200, body: state.stats.snapshot() };
  if (method === "GET" && path === "/_emulator/jobs") return { status: 200, body: { created: jobs?.created ?? 0, jobs: jobs?.all() ?? [] } };
  if (method === "POST" && path === "/_emulator/reset") {
    state.reset();
    return { status: 200, body: { ok: true } };
  }
  if (method === "PUT" && path === "/_emulator/faults") {
    let json: unknown;
    try {
      json = JSON.parse(rawBody);
    } catch {
      return { status: 400, body: { message: "body is not valid JSON" } };
    }
    const parsed = controlBodySchema.safeParse(json);
    if (!parsed.success) {
      return { status: 400, body: { message: "invalid emulator settings", issues: parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`) } };
    }
    const { faults, quota, latency, unavailableModels, unavailableRegions, accounts, lenient, maxConcurrent, labelErrors, studentLabelErrors, jobs: jobSettings } = parsed.data;
    if (faults !== undefined) state.setFaults(faults);
    if (quota !== undefined) state.setQuota(quota);
    if (latency !== undefined) state.setLatency(latency);
    if (unavailableModels !== undefined) state.setUnavailableModels(unavailableModels);
    if (unavailableRegions !== undefined) state.setUnavailableRegions(unavailableRegions);
    if (accounts !== undefined) state.setAccounts(accounts);
    if (lenient !== undefined) state.setLenient(lenient);
    if (maxConcurrent !== undefined) state.setMaxConcurrent(maxConcurrent);
    if (labelErrors !== undefined) state.setLabelErrors(labelErrors);
    if (studentLabelErrors !== undefined) state.setStudentLabelErrors(studentLabelErrors);
    if (jobSettings !== undefined) state.setJobs(Object.fromEntries(Object.entries(jobSettings).filter(([, v]) => v !== undefined)));
    return { status: 200, body: { ok: true, applied: parsed.data } };
  }
  return undefined;
}
