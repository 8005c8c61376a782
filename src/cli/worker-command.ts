import type { Command } from "commander";
import { createAwsClients } from "../aws-clients.ts";
import { requireQueue } from "../config/config.ts";
import { startHealthServer } from "../observability/health-server.ts";
import { createLogger } from "../observability/logger.ts";
import { workerHealthChecks } from "../observability/worker-health.ts";
import { createWorker } from "../worker.ts";
import { configFrom } from "./config-from-flags.ts";
import { untilSignal } from "./until-signal.ts";

/** Add `labelq worker`: a worker pool against the configured endpoints until a signal. */
export function registerWorkerCommand(program: Command): void {
  program
    .command("worker")
    .description("Run a worker pool against the SQS, DynamoDB and Bedrock endpoints the configuration names (AWS, LocalStack or `labelq local`).")
    .option("--concurrency <n>", "batches in flight in this process (LABELQ_CONCURRENCY)")
    .option("--queue <url>", "requests queue URL (LABELQ_REQUESTS_QUEUE_URL)")
    .option("--results <url>", "default results queue URL (LABELQ_RESULTS_QUEUE_URL)")
    .option("--dlq <url>", "dead-letter queue URL (LABELQ_DLQ_URL)")
    .action(async (o: { concurrency?: string; queue?: string; results?: string; dlq?: string }) => {
      const config = configFrom({
        LABELQ_CONCURRENCY: o.concurrency,
        LABELQ_REQUESTS_QUEUE_URL: o.queue,
        LABELQ_RESULTS_QUEUE_URL: o.results,
        LABELQ_DLQ_URL: o.dlq,
      });
      const logger = createLogger(config.log);
      const clients = createAwsClients(config);
      const worker = createWorker(config, clients, logger);
      worker.pool.start();
      const health = await startHealthServer(
        { port: config.http.port },
        worker.metrics,
        workerHealthChecks(worker.pool, clients.sqs, requireQueue(config, "requests"), config.worker.waitTimeS),
        logger,
      );
      logger.info(
        { queue: config.queues.requests, concurrency: config.worker.concurrency, region: config.region, httpPort: health.port },
        "worker started (metrics on /metrics, probes on /healthz and /readyz)",
      );
      await untilSignal(async () => {
        // Readiness turns 503 as soon as stopping begins; the server stays up until the pool is drained.
        await worker.close();
        await health.close();
        clients.destroy();
        logger.info("worker stopped");
        logger.flush();
      }, logger);
    });
}
