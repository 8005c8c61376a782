import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Metrics } from "../../core/observability/metrics.ts";

/** What the probes ask of the worker. */
export interface HealthChecks {
  /** Liveness: the process and its poll loop are alive. */
  live(): { ok: boolean; detail: Record<string, unknown> };
  /** Readiness: dependencies reachable, not shutting down. */
  ready(): Promise<{ ok: boolean; detail: Record<string, unknown> }>;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

/**
 * One HTTP server for Prometheus and the orchestrator's probes:
 * GET /metrics, GET /healthz (liveness), GET /readyz (readiness). 200 or 503, JSON bodies.
 */
export async function startHealthServer(options: { port: number; host?: string }, metrics: Metrics, checks: HealthChecks, logger: Logger): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    const send = (status: number, body: string, type = "application/json") => {
      res.writeHead(status, { "content-type": type });
      res.end(body);
    };
    const route = `${req.method} ${req.url?.split("?")[0]}`;
    const handle = async () => {
      switch (route) {
        case "GET /metrics":
          return send(200, await metrics.registry.metrics(), metrics.registry.contentType);
        case "GET /healthz": {
          const live = checks.live();
          return send(live.ok ? 200 : 503, JSON.stringify({ status: live.ok ? "ok" : "failing", ...live.detail }));
        }
        case "GET /readyz": {
          const ready = await checks.ready();
          return send(ready.ok ? 200 : 503, JSON.stringify({ status: ready.ok ? "ready" : "not ready", ...ready.detail }));
        }
        default:
          return send(404, JSON.stringify({ error: "not found", routes: ["/metrics", "/healthz", "/readyz"] }));
      }
    };
    handle().catch((error: unknown) => {
      logger.error({ err: error, route }, "health server error");
      if (!res.headersSent) send(500, JSON.stringify({ error: "internal error" }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "0.0.0.0", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
