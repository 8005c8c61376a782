import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import {
  type CustomizationControl,
  type CustomizationJobStatus,
  HOSTING_READY,
  type HostingControl,
  type HostingKind,
  type HostingStatus,
  type HostingSubmission,
} from "../../adapters/bedrock/customization-control.ts";
import { InvalidRequestError } from "../../core/errors/errors.ts";
import { readStateFile, writeStateFile } from "./json-file.ts";
import { mergeIntoCatalogue, packagedEntry, removeFromCatalogue, studentCatalogueEntry } from "./catalogue-overlay.ts";
import { readState, stateFileOf } from "./customization-job.ts";
import { STUDENT_MODELS } from "./customization-targets.ts";
import { hostingPlan, type ProvisionedFlags } from "./hosting-plan.ts";

/** What `labelq distill deploy` is given. */
export interface DeployOptions {
  /** The customization job: its name (as `distill start` recorded it) or ARN. */
  job: string;
  stateDir: string;
  /** Set for Provisioned Throughput; absent: an on-demand custom model deployment (Nova only). */
  provisioned?: ProvisionedFlags;
  /** Wait until the deployment serves (Active / InService). */
  wait: boolean;
  pollMs: number;
  /** Give up waiting after this long (the deployment stays; run again to wait again). */
  timeoutMs: number;
  catalogueOut?: string;
  alias?: string;
  progress: (line: string) => void;
  /** Milliseconds since the epoch, and a wait: injected so waiting is testable. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * A deployment's local record, written before the Create call: a crashed deploy's re-run finds the
 * deployment by its name (or the repeated clientRequestToken makes nothing) instead of buying another.
 * Its clientRequestToken is drawn once per deployment and kept only while the record exists: undeploy
 * removes the record, so the next deploy sends a new token and Bedrock makes a new deployment.
 */
const deployStateSchema = z.object({
  jobName: z.string(),
  student: z.string(),
  submission: z.custom<HostingSubmission>((v) => typeof v === "object" && v !== null),
  arn: z.string().optional(),
  hourlyUsd: z.number().optional(),
  recordedAt: z.string(),
});
export type DeployState = z.infer<typeof deployStateSchema>;

/** How deploy ended. */
export interface DeployResult {
  jobName: string;
  student: string;
  kind: HostingKind;
  name: string;
  arn: string;
  status: string;
  how: "created" | "adopted" | "recorded";
  stateFile: string;
  hourlyUsd?: number;
  catalogue?: { file: string; alias: string };
}

/** The state file of a job's deployment: apart from the job state files, which `distill status` lists. */
export function deployStateFileOf(stateDir: string, jobName: string): string {
  return path.join(stateDir, "deployments", `${jobName}.json`);
}

const readDeployState = (file: string) => readStateFile(file, deployStateSchema, "a labelq distill deployment state file");
const writeDeployState = writeStateFile;

/** The job a flag names: by its recorded ARN when `distill start` recorded it, else as given. */
async function jobOf(control: CustomizationControl, stateDir: string, job: string): Promise<CustomizationJobStatus> {
  const recorded = job.startsWith("arn:") ? undefined : await readState(stateFileOf(stateDir, job));
  return control.get(recorded?.jobArn ?? job);
}

/** The student alias of a base model id (amazon.nova-micro-v1:0:128k -> nova-micro). */
function studentOf(baseModelId: string | undefined): string {
  const found = Object.entries(STUDENT_MODELS).find(([, t]) => t.modelId === baseModelId || t.modelId.split(":").slice(0, 2).join(":") === baseModelId);
  if (found === undefined) throw new InvalidRequestError(`the job's base model ${baseModelId ?? "(not reported)"} is no student labelq deploys; students: ${Object.keys(STUDENT_MODELS).join(", ")}`);
  return found[0];
}

/** A deployment name Bedrock takes (([0-9a-zA-Z][_-]?){1,63}) from the job's name. */
export function hostingName(jobName: string, kind: HostingKind): string {
  const stem = jobName.replace(/[^0-9a-zA-Z_-]/g, "-").replace(/[-_]{2,}/g, "-").replace(/^[-_]+|[-_]+$/g, "").slice(0, 59);
  return `${stem}-${kind === "on-demand" ? "od" : "pt"}`;
}

/** What tells one deployment of a job from another: how it is hosted, and for Provisioned Throughput its units and term. */
type HostingParameters = Pick<HostingSubmission, "kind" | "modelUnits" | "commitment">;

const hostingWhat = (kind: HostingKind) => (kind === "on-demand" ? "custom model deployment" : "Provisioned Throughput");

function describeParameters(p: HostingParameters): string {
  if (p.kind === "on-demand") return "a custom model deployment (on demand)";
  return `Provisioned Throughput of ${p.modelUnits ?? 1} model unit${(p.modelUnits ?? 1) === 1 ? "" : "s"} with ${p.commitment === undefined ? "no commitment" : `a ${p.commitment} commitment`}`;
}

/** Whether an existing deployment is the one the plan asks for; model units Bedrock did not report are not compared. */
function sameParameters(existing: HostingParameters, wanted: HostingParameters): boolean {
  if (existing.kind !== wanted.kind) return false;
  if (wanted.kind === "on-demand") return true;
  return (existing.modelUnits === undefined || existing.modelUnits === wanted.modelUnits) && existing.commitment === wanted.commitment;
}

/**
 * A job has one deployment at a time: one of another kind or size is left alone (it may be billing by
 * the hour, and its record is the only pointer labelq keeps to it) and named, with the way to remove it.
 */
function refuseOther(jobName: string, existing: HostingParameters & { name: string; arn?: string }, wanted: HostingParameters, where: string): never {
  throw new InvalidRequestError(
    `${jobName} already has ${describeParameters(existing)}: ${hostingWhat(existing.kind)} ${existing.name} (${existing.arn ?? "ARN not recorded yet"}, ${where}); ` +
      `this run asks for ${describeParameters(wanted)}. labelq keeps one deployment per job: remove it first with labelq distill undeploy --job ${jobName}, then deploy again`,
  );
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Deploys a completed student: a custom model deployment (on demand, Nova), or Provisioned
 * Throughput when `provisioned` is given and its hourly cost confirmed. Created once: recorded
 * before Create, adopted by name after a crash; one per job (another kind or size is refused while
 * one is recorded and exists); waits until it serves unless `wait` is false; writes the student's
 * catalogue entry when `catalogueOut` is given.
 */
export async function deployStudent(control: CustomizationControl & HostingControl, o: DeployOptions): Promise<DeployResult> {
  const job = await jobOf(control, o.stateDir, o.job);
  if (job.status !== "Completed" || job.customModelArn === undefined) {
    throw new InvalidRequestError(`customization job ${job.jobName} is ${job.status}${job.failureMessage ? ` (${job.failureMessage})` : ""}: a student is deployed once its job is Completed (labelq distill status ${job.jobName})`);
  }
  const student = studentOf(job.baseModelId);
  const plan = hostingPlan(student, job, o.provisioned);
  const name = hostingName(job.jobName, plan.kind);
  const wanted: HostingParameters = { kind: plan.kind, ...(plan.modelUnits === undefined ? {} : { modelUnits: plan.modelUnits }), ...(plan.commitment === undefined ? {} : { commitment: plan.commitment }) };
  const stateFile = deployStateFileOf(o.stateDir, job.jobName);
  const record = (submission: HostingSubmission, arn?: string) =>
    writeDeployState(stateFile, { jobName: job.jobName, student, submission, ...(arn === undefined ? {} : { arn }), ...(plan.hourlyUsd === undefined ? {} : { hourlyUsd: plan.hourlyUsd }), recordedAt: new Date().toISOString() });

  let recorded = await readDeployState(stateFile);
  let how: DeployResult["how"] | undefined;
  let hosting: HostingStatus | undefined;
  if (recorded?.arn !== undefined) {
    const { kind } = recorded.submission;
    hosting = await control.getHosting(kind, recorded.arn);
    if (hosting === undefined) {
      // Deleted outside labelq: its record (and token, which Bedrock would ignore) no longer stands for anything.
      o.progress(`the recorded ${hostingWhat(kind)} ${recorded.arn} no longer exists: deploying again`);
      recorded = undefined;
    } else {
      how = "recorded";
    }
  }
  if (recorded !== undefined && !sameParameters(recorded.submission, wanted)) {
    refuseOther(job.jobName, { ...recorded.submission, ...(recorded.arn === undefined ? {} : { arn: recorded.arn }) }, wanted, `recorded in ${stateFile}`);
  }
  if (hosting === undefined) {
    // An earlier run may have made it and died before recording its ARN.
    hosting = await control.findHosting(plan.kind, name);
    if (hosting !== undefined) how = "adopted";
  }
  // The token of this deployment: the recorded one while its record stands (a re-run repeats the Create
  // Bedrock may already have acted on), else a new one.
  const submission: HostingSubmission = recorded?.submission ?? { ...wanted, name, customModelArn: job.customModelArn, clientRequestToken: randomUUID() };
  if (hosting !== undefined && !sameParameters(hosting, wanted)) refuseOther(job.jobName, hosting, wanted, "as Bedrock reports it");
  if (hosting === undefined) {
    await record(submission);
    const { arn } = await control.createHosting(submission);
    // A repeated clientRequestToken is answered without an ARN: find it by name.
    const made = arn === undefined ? await control.findHosting(plan.kind, name) : await control.getHosting(plan.kind, arn);
    if (made === undefined) {
      throw new InvalidRequestError(
        `Bedrock answered without an ARN and no ${hostingWhat(plan.kind)} named ${name} is listed yet; run the same command again to adopt it ` +
          `(if it never appears, labelq distill undeploy --job ${job.jobName} clears the record, and the next deploy makes a new one)`,
      );
    }
    how = arn === undefined ? "adopted" : "created";
    hosting = made;
  }
  how ??= "recorded";
  // A re-run may carry a corrected --unit-hourly-usd: the record keeps the latest.
  if (how !== "recorded" || recorded?.hourlyUsd !== plan.hourlyUsd) await record(submission, hosting.arn);
  o.progress(`${how === "created" ? "created" : how === "adopted" ? "adopted (made by an earlier run)" : "already deployed"} ${hostingWhat(plan.kind)} ${name}: ${hosting.arn}`);
  if (o.wait) hosting = await waitUntilServing(control, hosting, o);

  const result: DeployResult = { jobName: job.jobName, student, kind: plan.kind, name, arn: hosting.arn, status: hosting.status, how, stateFile, ...(plan.hourlyUsd === undefined ? {} : { hourlyUsd: plan.hourlyUsd }) };
  if (o.catalogueOut === undefined) return result;
  const base = packagedEntry(plan.baseAlias);
  if (base === undefined) throw new InvalidRequestError(`the packaged catalogue has no ${plan.baseAlias} entry to copy the student's limits from`);
  const alias = o.alias ?? `${student}-student`;
  const entry = studentCatalogueEntry(
    {
      alias,
      student,
      jobName: job.jobName,
      customModelArn: job.customModelArn,
      hosting: { kind: plan.kind, arn: hosting.arn, ...(plan.hourlyUsd === undefined ? {} : { hourlyUsd: plan.hourlyUsd }), ...(plan.modelUnits === undefined ? {} : { modelUnits: plan.modelUnits }), ...(plan.commitment === undefined ? {} : { commitment: plan.commitment }) },
      baseAlias: plan.baseAlias,
      ...(plan.baseNote === undefined ? {} : { baseNote: plan.baseNote }),
      asOf: new Date((o.now ?? Date.now)()).toISOString().slice(0, 10),
    },
    base,
  );
  await mergeIntoCatalogue(o.catalogueOut, entry);
  return { ...result, catalogue: { file: o.catalogueOut, alias } };
}

/** Polls until the deployment serves, with a progress line per status change (and a minute without one); Failed is an error. */
async function waitUntilServing(control: HostingControl, first: HostingStatus, o: DeployOptions): Promise<HostingStatus> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? sleepFor;
  const started = now();
  let hosting = first;
  let said = { status: "", at: started };
  for (;;) {
    if (HOSTING_READY.has(hosting.status)) {
      o.progress(`${hosting.name}: ${hosting.status} after ${Math.round((now() - started) / 1000)} s; call it as ${hosting.arn}`);
      return hosting;
    }
    if (hosting.status === "Failed") throw new InvalidRequestError(`${hosting.name} failed: ${hosting.failureMessage ?? "Bedrock gave no reason"} (${hosting.arn})`);
    const elapsed = now() - started;
    if (elapsed > o.timeoutMs) {
      throw new InvalidRequestError(`${hosting.name} is still ${hosting.status} after ${Math.round(elapsed / 1000)} s; it keeps deploying: run the same command again to wait, or labelq distill undeploy to remove it`);
    }
    if (hosting.status !== said.status || now() - said.at >= 60_000) {
      o.progress(`waiting for ${hosting.name}: ${hosting.status} (${Math.round(elapsed / 1000)} s)`);
      said = { status: hosting.status, at: now() };
    }
    await sleep(o.pollMs);
    const next = await control.getHosting(hosting.kind, hosting.arn);
    if (next === undefined) throw new InvalidRequestError(`${hosting.name} was deleted while deploy waited for it (${hosting.arn}); run deploy again to make a new one`);
    hosting = next;
  }
}

/** What `labelq distill undeploy` is given. */
export interface UndeployOptions {
  job: string;
  stateDir: string;
  catalogueOut?: string;
  alias?: string;
}

/** How undeploy ended: deleted now, already gone (deleted outside labelq), or never created (no deployment by its name). */
export interface UndeployResult {
  kind: HostingKind;
  name: string;
  arn: string;
  how: "deleted" | "already-gone" | "never-created";
  catalogueEntryRemoved: boolean;
}

/**
 * Deletes a student's deployment or Provisioned Throughput (the billing stops), its record, and its
 * catalogue entry when asked. One already gone is done too: its record and entry are removed all the same.
 */
export async function undeployStudent(control: CustomizationControl & HostingControl, o: UndeployOptions): Promise<UndeployResult> {
  const jobName = o.job.startsWith("arn:") ? (await control.get(o.job)).jobName : o.job;
  const stateFile = deployStateFileOf(o.stateDir, jobName);
  const state = await readDeployState(stateFile);
  if (state === undefined) throw new InvalidRequestError(`no deployment of ${jobName} is recorded in ${stateFile}; labelq distill deploy records one`);
  const { kind, name } = state.submission;
  const arn = state.arn ?? (await control.findHosting(kind, name))?.arn;
  const how: UndeployResult["how"] = arn === undefined ? "never-created" : (await control.deleteHosting(kind, arn)) === "deleted" ? "deleted" : "already-gone";
  await fs.rm(stateFile);
  const removed = o.catalogueOut === undefined ? false : await removeFromCatalogue(o.catalogueOut, o.alias ?? `${state.student}-student`);
  return { kind, name, arn: arn ?? "(never created)", how, catalogueEntryRemoved: removed };
}
