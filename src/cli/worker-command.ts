import type { Command } from "commander";
import { createAwsClients } from "../aws-clients.ts";
import { createLogger } from "../observability/logger.ts";
import { startWorker } from "../worker.ts";
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
      const worker = await startWorker(config, clients, logger, { http: { port: config.http.port } });
      logger.info(
        { queue: config.queues.requests, concurrency: config.worker.concurrency, region: config.region, httpPort: worker.httpPort },
        "worker started (metrics on /metrics, probes on /healthz and /readyz)",
      );
      await untilSignal(async () => {
        await worker.close();
        clients.destroy();
        logger.info("worker stopped");
        logger.flush();
      }, logger);
    });
}
