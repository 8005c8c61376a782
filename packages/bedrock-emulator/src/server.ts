import { z } from "zod";
import { randomUUID } from "node:crypto";
import http from "node:http";
import http2 from "node:http2";
import net, { type AddressInfo } from "node:net";
import { awsError } from "./aws-errors.ts";
import { handleControl } from "./control.ts";
import { errorResponse, handleConverse, regionDownError, type EmulatorResponse } from "./converse-handler.ts";
import type { LabelErrorOptions } from "./label-errors.ts";
import {
  accountsSchema,
  faultRuleSchema,
  jobsControlSchema,
  jobsOptionsSchema,
  labelErrorsSchema,
  latencySchema,
  lenientSchema,
  maxConcurrentSchema,
  quotaSchema,
  unavailableRegionsSchema,
} from "./settings-schema.ts";
import { jobFaultsSchema, jobQuotasSchema, repeatTokenAnswerSchema } from "./jobs/job-settings.ts";
import { handleJobRoute } from "./jobs/job-routes.ts";
import { JobStore } from "./jobs/job-store.ts";
import { s3JobStorage } from "./jobs/s3-io.ts";
import { closeCustomizationJobs, handleCustomizationRoute, registerCustomizationJobs } from "./customization/customization-routes.ts";
import { closeDeployments, handleDeploymentRoute, invocationTarget, registerDeployments } from "./customization/deployment-routes.ts";
import { requestIdentity, type RequestIdentity } from "./request-identity.ts";
import { handleServiceQuotas, isServiceQuotasTarget } from "./service-quotas.ts";
import { EmulatorState } from "./state.ts";
import { DEFAULT_LENIENT, type LenientRule } from "./strictness.ts";
import type { BedrockEmulator, BedrockEmulatorOptions, FaultRule, LatencyOptions, QuotaOptions } from "./types.ts";

const CONVERSE_PATH = /^\/model\/([^/]+)\/converse$/;

type EmulatorRequest = http2.Http2ServerRequest | http.IncomingMessage;
type EmulatorServerResponse = http2.Http2ServerResponse | http.ServerResponse;

// Every HTTP/2 connection opens with this preface (RFC 9113 section 3.4); HTTP/1.1 starts with a method.
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** True when the first bytes of a connection are (the start of) the HTTP/2 preface. */
function isHttp2Preface(chunk: Buffer): boolean {
  const n = Math.min(chunk.length, HTTP2_PREFACE.length);
  return n > 0 && chunk.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
}

/** True when the client went away (it may give up while the simulated latency runs). */
function clientGone(res: EmulatorServerResponse): boolean {
  return "stream" in res ? res.stream.destroyed || res.stream.closed : res.destroyed || res.socket === null || res.socket.destroyed;
}

function readBody(req: EmulatorRequest): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function decodeModelId(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** What the router needs from a request besides its method, URL and body. */
interface RouteContext {
  identity: RequestIdentity;
  /** The X-Amz-Target header (JSON protocol operations such as Service Quotas'). */
  target: string | undefined;
}

function route(state: EmulatorState, jobs: JobStore, method: string, url: string, body: string, context: RouteContext): EmulatorResponse {
  const requestId = randomUUID();
  const path = url.split("?")[0] ?? url;
  const control = handleControl(state, method, path, body, jobs);
  if (control !== undefined) {
    return { status: control.status, headers: { "content-type": "application/json" }, body: JSON.stringify(control.body), delayMs: 0 };
  }
  const { identity, target } = context;
  const match = CONVERSE_PATH.exec(path);
  const modelId = match?.[1] === undefined ? undefined : decodeModelId(match[1]);
  // Converse counts its own calls (and its Region outages) in the stats.
  // A custom model deployment or Provisioned Throughput ARN answers as its custom model (customization/deployment-store.ts).
  if (method === "POST" && modelId !== undefined) return handleConverse(state, modelId, body, requestId, identity, invocationTarget(jobs, modelId, identity.region));
  if (state.unavailableRegions.has(identity.region)) return errorResponse(undefined, regionDownError(identity.region), requestId);
  // Service Quotas (JSON 1.1 protocol): POST / with X-Amz-Target naming the operation.
  if (method === "POST" && isServiceQuotasTarget(target)) return handleServiceQuotas(state, target, body, identity, requestId);
  // Model invocation jobs (control plane); unsigned requests are taken as us-east-1's.
  const job = handleJobRoute(jobs, method, url, body, identity.region, requestId);
  if (job !== undefined) return job;
  // Model customization jobs (control plane), registered beside the invocation jobs.
  const customization = handleCustomizationRoute(jobs, method, url, body, identity.region, requestId);
  if (customization !== undefined) return customization;
  // Custom model deployments and Provisioned Throughput (control plane).
  const deployment = handleDeploymentRoute(jobs, method, url, body, identity.region, requestId);
  if (deployment !== undefined) return deployment;
  // Not a converse call: not counted in the stats.
  return errorResponse(undefined, awsError("UnknownOperationException", `Unknown operation: ${method} ${path}`), requestId);
}

/** Starts the Bedrock emulator (test double, simulated model) on an HTTP/2 cleartext port. */
export async function startBedrockEmulator(options: BedrockEmulatorOptions = {}): Promise<BedrockEmulator> {
  const state = createState(options);
  const jobs = createJobStore(state, options);
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer(requestHandler(state, jobs, timers), sockets);
  const host = options.host ?? "127.0.0.1";
  const { port, url } = await listen(server, host, options.port ?? 0);
  options.logger?.(`Bedrock emulator (test double, simulated model: a deterministic rule-based classifier, not an LLM) listening on ${url}`);
  return {
    url,
    port,
    ...controls(state),
    jobs: jobControls(state, jobs),
    close: () =>
      new Promise<void>((resolve, reject) => {
        jobs.close();
        closeCustomizationJobs(jobs);
        closeDeployments(jobs);
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        state.inFlight = 0;
        server.close((err) => (err ? reject(err) : resolve()));
        // Clients keep connections (HTTP/2 sessions, HTTP/1.1 keep-alive) open; without this close() would wait for them.
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** The emulator's state from its validated options (faults, quota, latency, strictness, concurrency, Regions, accounts, jobs, label errors). */
function createState(options: BedrockEmulatorOptions): EmulatorState {
  const faults = faultRuleSchema.array().parse(options.faults ?? []);
  const quota = quotaSchema.parse(options.quota ?? {});
  const latency = latencySchema.parse(options.latency ?? { fixedMs: 0, perOutputTokenMs: 0 });
  const lenient = lenientSchema.parse(options.lenient ?? [...DEFAULT_LENIENT]);
  const maxConcurrent = maxConcurrentSchema.parse(options.maxConcurrent ?? 0);
  const jobSettings = jobsOptionsSchema.parse(options.jobs ?? {});
  const state = new EmulatorState(options.seed ?? 0, faults, quota, latency, options.unavailableModels ?? [], lenient, maxConcurrent, jobSettings, options.clock);
  state.setLabelErrors(labelErrorsSchema.parse(options.labelErrors ?? {}));
  state.setStudentLabelErrors(labelErrorsSchema.parse(options.studentLabelErrors ?? {}));
  state.setUnavailableRegions(unavailableRegionsSchema.parse(options.unavailableRegions ?? []));
  state.setAccounts(accountsSchema.parse(options.accounts ?? {}));
  return state;
}

/** The model invocation jobs, reading their settings from the state as it is now (it changes at run time). */
function createJobStore(state: EmulatorState, options: BedrockEmulatorOptions): JobStore {
  const jobs = new JobStore({
    storage: options.s3 === undefined ? undefined : s3JobStorage(options.s3),
    settings: () => state.jobs,
    now: state.now,
    seed: state.seed,
    lenient: () => state.lenient,
    labelErrors: () => state.labelErrors,
  });
  const customization = registerCustomizationJobs(jobs, {
    storage: options.s3 === undefined ? undefined : s3JobStorage(options.s3),
    settings: () => state.jobs,
    now: state.now,
    studentLabelErrors: () => state.studentLabelErrors,
  });
  registerDeployments(jobs, { customModel: (arn) => customization.customModel(arn), settings: () => state.jobs, now: state.now });
  return jobs;
}

type RequestHandler = (req: EmulatorRequest, res: EmulatorServerResponse) => void;

/** Read a request, route it, and send the answer after its simulated latency (timers kept in `timers` so close() can clear them). */
function requestHandler(state: EmulatorState, jobs: JobStore, timers: Set<NodeJS.Timeout>): RequestHandler {
  return (req, res) => {
    readBody(req)
      .then((body) => {
        const target = req.headers["x-amz-target"];
        const context = { identity: requestIdentity(req.headers.authorization, state.accounts), target: typeof target === "string" ? target : undefined };
        const answer = route(state, jobs, req.method ?? "GET", req.url ?? "/", body, context);
        if (answer.delayMs <= 0) return sendAnswer(res, answer);
        // A timer, never a busy wait: other calls proceed during the simulated latency.
        const timer = setTimeout(() => {
          timers.delete(timer);
          sendAnswer(res, answer);
        }, answer.delayMs);
        timers.add(timer);
      })
      .catch(() => ("stream" in res ? res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR) : res.destroy()));
  };
}

/** Write an answer unless its client is gone; its onSent runs either way. */
function sendAnswer(res: EmulatorServerResponse, answer: EmulatorResponse): void {
  try {
    // The client may have given up while the simulated latency ran.
    if (clientGone(res)) return;
    if ("stream" in res) res.writeHead(answer.status, answer.headers).end(answer.body);
    else res.writeHead(answer.status, answer.headers).end(answer.body);
  } finally {
    answer.onSent?.();
  }
}

/**
 * One TCP server for both protocols. The runtime client (Converse) speaks HTTP/2 by default, the
 * control-plane client (model invocation jobs, @aws-sdk/client-bedrock) HTTP/1.1: one port serves
 * both, chosen per connection by its first bytes, since cleartext HTTP/2 has no ALPN to negotiate
 * with. Open sockets are kept in `sockets` so close() can end them.
 */
function createServer(onRequest: RequestHandler, sockets: Set<net.Socket>): net.Server {
  const h2 = http2.createServer();
  h2.on("request", onRequest);
  const h1 = http.createServer({ keepAliveTimeout: 5_000 });
  h1.on("request", onRequest);
  return net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.once("data", (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      (isHttp2Preface(first) ? h2 : h1).emit("connection", socket);
      process.nextTick(() => socket.resume());
    });
  });
}

/** Listen on host:port (0: a free one) and give the port taken and the URL to reach it. */
async function listen(server: net.Server, host: string, port: number): Promise<{ port: number; url: string }> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const taken = (server.address() as AddressInfo).port;
  return { port: taken, url: `http://${host.includes(":") ? `[${host}]` : host}:${taken}` };
}

/** The in-process controls of the model side: stats and every setting, validated as the HTTP controls validate them. */
function controls(state: EmulatorState): Omit<BedrockEmulator, "url" | "port" | "jobs" | "close"> {
  return {
    stats: () => state.stats.snapshot(),
    resetStats: () => state.stats.reset(),
    reset: () => state.reset(),
    setFaults: (rules: FaultRule[]) => state.setFaults(faultRuleSchema.array().parse(rules)),
    setQuota: (q: QuotaOptions) => state.setQuota(quotaSchema.parse(q)),
    setLatency: (l: LatencyOptions) => state.setLatency(latencySchema.parse(l)),
    setUnavailableModels: (ids: string[]) => state.setUnavailableModels(ids),
    setUnavailableRegions: (regions: string[]) => state.setUnavailableRegions(unavailableRegionsSchema.parse(regions)),
    setAccounts: (accounts: Record<string, string>) => state.setAccounts(accountsSchema.parse(accounts)),
    setLenient: (rules: LenientRule[]) => state.setLenient(lenientSchema.parse(rules)),
    setMaxConcurrent: (max: number) => state.setMaxConcurrent(maxConcurrentSchema.parse(max)),
    setLabelErrors: (o: LabelErrorOptions) => state.setLabelErrors(labelErrorsSchema.parse(o)),
    setStudentLabelErrors: (o: LabelErrorOptions) => state.setStudentLabelErrors(labelErrorsSchema.parse(o)),
  };
}

/** The in-process controls of the model invocation jobs. */
function jobControls(state: EmulatorState, jobs: JobStore): BedrockEmulator["jobs"] {
  return {
    list: () => jobs.all(),
    created: () => jobs.created,
    setFaults: (f) => state.setJobs({ faults: jobFaultsSchema.parse(f) }),
    setQuotas: (q) => state.setJobs({ quotas: jobQuotasSchema.parse(q) }),
    setTiming: (t) => {
      // manual only in code: over HTTP nothing could call advance(), and jobs would never move.
      const timing = jobsControlSchema.pick({ stepMs: true, recordsPerStep: true, hourMs: true }).extend({ manual: z.boolean().optional() }).parse(t);
      state.setJobs(Object.fromEntries(Object.entries(timing).filter(([, v]) => v !== undefined)));
    },
    setRepeatTokenAnswer: (answer) => state.setJobs({ repeatTokenAnswer: repeatTokenAnswerSchema.parse(answer) }),
    history: (job) => {
      const history = jobs.history(jobIdOf(job));
      if (history === undefined) throw new Error(`the Bedrock emulator has no job ${job}`);
      return history;
    },
    advance: (job) => jobs.advance(jobIdOf(job)),
  };
}

/** A job's id from its ARN (or the id itself). */
function jobIdOf(job: string): string {
  return job.slice(job.lastIndexOf("/") + 1);
}
