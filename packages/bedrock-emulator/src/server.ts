import { z } from "zod";
import { randomUUID } from "node:crypto";
import http from "node:http";
import http2 from "node:http2";
import net, { type AddressInfo } from "node:net";
import { awsError } from "./aws-errors.ts";
import { handleControl } from "./control.ts";
import { errorResponse, handleConverse, type EmulatorResponse } from "./converse-handler.ts";
import type { LabelErrorOptions } from "./label-errors.ts";
import { faultRuleSchema, jobsControlSchema, jobsOptionsSchema, labelErrorsSchema, latencySchema, lenientSchema, maxConcurrentSchema, quotaSchema } from "./settings-schema.ts";
import { jobFaultsSchema, jobQuotasSchema } from "./jobs/job-settings.ts";
import { handleJobRoute } from "./jobs/job-routes.ts";
import { JobStore } from "./jobs/job-store.ts";
import { s3JobStorage } from "./jobs/s3-io.ts";
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

// SigV4 names the Region in the credential scope: Credential=<key>/<date>/<region>/bedrock/aws4_request.
const SIGNED_REGION = /Credential=[^/]+\/\d{8}\/([a-z0-9-]+)\//;

/** The Region a request was signed for, when it was signed. */
function signedRegion(authorization: string | undefined): string | undefined {
  return authorization === undefined ? undefined : SIGNED_REGION.exec(authorization)?.[1];
}

function route(state: EmulatorState, jobs: JobStore, method: string, url: string, body: string, region: string | undefined): EmulatorResponse {
  const requestId = randomUUID();
  const path = url.split("?")[0] ?? url;
  const control = handleControl(state, method, path, body, jobs);
  if (control !== undefined) {
    return { status: control.status, headers: { "content-type": "application/json" }, body: JSON.stringify(control.body), delayMs: 0 };
  }
  // Model invocation jobs (control plane); unsigned requests are taken as us-east-1's.
  const job = handleJobRoute(jobs, method, url, body, region ?? "us-east-1", requestId);
  if (job !== undefined) return job;
  const match = CONVERSE_PATH.exec(path);
  const modelId = match?.[1] === undefined ? undefined : decodeModelId(match[1]);
  if (method === "POST" && modelId !== undefined) return handleConverse(state, modelId, body, requestId, region);
  // Not a converse call: not counted in the stats.
  return errorResponse(undefined, awsError("UnknownOperationException", `Unknown operation: ${method} ${path}`), requestId);
}

/** Starts the Bedrock emulator (test double, simulated model) on an HTTP/2 cleartext port. */
export async function startBedrockEmulator(options: BedrockEmulatorOptions = {}): Promise<BedrockEmulator> {
  const faults = faultRuleSchema.array().parse(options.faults ?? []);
  const quota = quotaSchema.parse(options.quota ?? {});
  const latency = latencySchema.parse(options.latency ?? { fixedMs: 0, perOutputTokenMs: 0 });
  const host = options.host ?? "127.0.0.1";
  const lenient = lenientSchema.parse(options.lenient ?? [...DEFAULT_LENIENT]);
  const maxConcurrent = maxConcurrentSchema.parse(options.maxConcurrent ?? 0);
  const jobSettings = jobsOptionsSchema.parse(options.jobs ?? {});
  const state = new EmulatorState(options.seed ?? 0, faults, quota, latency, options.unavailableModels ?? [], lenient, maxConcurrent, jobSettings, options.clock);
  state.setLabelErrors(labelErrorsSchema.parse(options.labelErrors ?? {}));
  const jobs = new JobStore({
    storage: options.s3 === undefined ? undefined : s3JobStorage(options.s3),
    settings: () => state.jobs,
    now: state.now,
    seed: state.seed,
    lenient: () => state.lenient,
    labelErrors: () => state.labelErrors,
  });

  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const onRequest = (req: EmulatorRequest, res: EmulatorServerResponse): void => {
    readBody(req)
      .then((body) => {
        const answer = route(state, jobs, req.method ?? "GET", req.url ?? "/", body, signedRegion(req.headers.authorization));
        const send = () => {
          try {
            // The client may have given up while the simulated latency ran.
            if (clientGone(res)) return;
            if ("stream" in res) res.writeHead(answer.status, answer.headers).end(answer.body);
            else res.writeHead(answer.status, answer.headers).end(answer.body);
          } finally {
            answer.onSent?.();
          }
        };
        if (answer.delayMs <= 0) return send();
        // A timer, never a busy wait: other calls proceed during the simulated latency.
        const timer = setTimeout(() => {
          timers.delete(timer);
          send();
        }, answer.delayMs);
        timers.add(timer);
      })
      .catch(() => ("stream" in res ? res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR) : res.destroy()));
  };

  // The runtime client (Converse) speaks HTTP/2 by default, the control-plane client (model
  // invocation jobs, @aws-sdk/client-bedrock) HTTP/1.1: one port serves both, chosen per
  // connection by its first bytes, since cleartext HTTP/2 has no ALPN to negotiate with.
  const h2 = http2.createServer();
  h2.on("request", onRequest);
  const h1 = http.createServer({ keepAliveTimeout: 5_000 });
  h1.on("request", onRequest);
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.once("data", (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      (isHttp2Preface(first) ? h2 : h1).emit("connection", socket);
      process.nextTick(() => socket.resume());
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  options.logger?.(`Bedrock emulator (test double, simulated model: a deterministic rule-based classifier, not an LLM) listening on ${url}`);

  return {
    url,
    port,
    stats: () => state.stats.snapshot(),
    resetStats: () => state.stats.reset(),
    reset: () => state.reset(),
    setFaults: (rules: FaultRule[]) => state.setFaults(faultRuleSchema.array().parse(rules)),
    setQuota: (q: QuotaOptions) => state.setQuota(quotaSchema.parse(q)),
    setLatency: (l: LatencyOptions) => state.setLatency(latencySchema.parse(l)),
    setUnavailableModels: (ids: string[]) => state.setUnavailableModels(ids),
    setLenient: (rules: LenientRule[]) => state.setLenient(lenientSchema.parse(rules)),
    setMaxConcurrent: (max: number) => state.setMaxConcurrent(maxConcurrentSchema.parse(max)),
    setLabelErrors: (o: LabelErrorOptions) => state.setLabelErrors(labelErrorsSchema.parse(o)),
    jobs: {
      list: () => jobs.all(),
      created: () => jobs.created,
      setFaults: (f) => state.setJobs({ faults: jobFaultsSchema.parse(f) }),
      setQuotas: (q) => state.setJobs({ quotas: jobQuotasSchema.parse(q) }),
      setTiming: (t) => {
        // manual only in code: over HTTP nothing could call advance(), and jobs would never move.
        const timing = jobsControlSchema.pick({ stepMs: true, recordsPerStep: true, hourMs: true }).extend({ manual: z.boolean().optional() }).parse(t);
        state.setJobs(Object.fromEntries(Object.entries(timing).filter(([, v]) => v !== undefined)));
      },
      history: (job) => {
        const history = jobs.history(jobIdOf(job));
        if (history === undefined) throw new Error(`the Bedrock emulator has no job ${job}`);
        return history;
      },
      advance: (job) => jobs.advance(jobIdOf(job)),
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        jobs.close();
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        state.inFlight = 0;
        server.close((err) => (err ? reject(err) : resolve()));
        // Clients keep connections (HTTP/2 sessions, HTTP/1.1 keep-alive) open; without this close() would wait for them.
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** A job's id from its ARN (or the id itself). */
function jobIdOf(job: string): string {
  return job.slice(job.lastIndexOf("/") + 1);
}
