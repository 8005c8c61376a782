import { randomUUID } from "node:crypto";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { awsError } from "./aws-errors.ts";
import { handleControl } from "./control.ts";
import { errorResponse, handleConverse, type EmulatorResponse } from "./converse-handler.ts";
import type { LabelErrorOptions } from "./label-errors.ts";
import { faultRuleSchema, labelErrorsSchema, latencySchema, lenientSchema, maxConcurrentSchema, quotaSchema } from "./settings-schema.ts";
import { EmulatorState } from "./state.ts";
import { DEFAULT_LENIENT, type LenientRule } from "./strictness.ts";
import type { BedrockEmulator, BedrockEmulatorOptions, FaultRule, LatencyOptions, QuotaOptions } from "./types.ts";

const CONVERSE_PATH = /^\/model\/([^/]+)\/converse$/;

function readBody(req: http2.Http2ServerRequest): Promise<string> {
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

function route(state: EmulatorState, method: string, url: string, body: string, region: string | undefined): EmulatorResponse {
  const requestId = randomUUID();
  const path = url.split("?")[0] ?? url;
  const control = handleControl(state, method, path, body);
  if (control !== undefined) {
    return { status: control.status, headers: { "content-type": "application/json" }, body: JSON.stringify(control.body), delayMs: 0 };
  }
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
  const state = new EmulatorState(options.seed ?? 0, faults, quota, latency, options.unavailableModels ?? [], lenient, maxConcurrent, options.clock);
  state.setLabelErrors(labelErrorsSchema.parse(options.labelErrors ?? {}));

  const sessions = new Set<http2.ServerHttp2Session>();
  const timers = new Set<NodeJS.Timeout>();
  const server = http2.createServer();

  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  server.on("request", (req, res) => {
    readBody(req)
      .then((body) => {
        const answer = route(state, req.method, req.url, body, signedRegion(req.headers.authorization));
        const send = () => {
          try {
            // The client may have given up while the simulated latency ran.
            if (res.stream.destroyed || res.stream.closed) return;
            res.writeHead(answer.status, answer.headers);
            res.end(answer.body);
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
      .catch(() => res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
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
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        state.inFlight = 0;
        server.close((err) => (err ? reject(err) : resolve()));
        // Clients keep HTTP/2 sessions open; without this close() would wait for them.
        for (const session of sessions) session.destroy();
      }),
  };
}
