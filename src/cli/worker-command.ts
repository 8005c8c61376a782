import type { Command } from "commander";
import { createAwsClients } from "../adapters/aws-clients.ts";
import { requireQueues } from "../core/config/config.ts";
import { createLogger } from "../core/observability/logger.ts";
import { readPoolQuotas } from "../adapters/service-quotas.ts";
import { checkLimiterRedis, checkModelResidency, checkWorkerCanStart, fillPoolLimits, workerQueues } from "../app/ops/preflight.ts";
import { modelCatalogueFor, startWorker } from "../app/worker/worker.ts";
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
      let config = configFrom({
        LABELQ_CONCURRENCY: o.concurrency,
        LABELQ_REQUESTS_QUEUE_URL: o.queue,
        LABELQ_RESULTS_QUEUE_URL: o.results,
        LABELQ_DLQ_URL: o.dlq,
      });
      // Every missing queue variable in one message, then one call per queue: a worker that cannot
      // work says why once and exits, instead of retrying its polls forever.
      const queues = requireQueues(config, ["requests", "results", "dlq"]);
      // No network call: a residency the default or fallback model cannot meet is refused before any.
      checkModelResidency(config);
      const clients = createAwsClients(config);
      const logger = createLogger(config.log);
      try {
        await checkWorkerCanStart(clients.sqs, workerQueues(queues));
        // A pool without limits takes the account's quotas: the limiter then paces from the first call.
        const before = config;
        config = await fillPoolLimits(config, () => readPoolQuotas(before, modelCatalogueFor(before)), (message) => logger.warn(message));
        if (config !== before) logger.info({ pools: config.limiter.pools?.map((p) => ({ id: p.id, rpm: p.rpm, tpm: p.tpm })) }, "quota pool limits read from Service Quotas");
        // A wrong Redis credential would leave each worker limiting alone on the whole quota.
        const redis = await checkLimiterRedis(config.limiter);
        if (redis && !redis.ok) logger.warn("the limiter's Redis cannot be reached: limiting locally until it answers");
      } catch (error) {
        clients.destroy();
        throw error;
      }
      const worker = await startWorker(config, clients, logger, { http: { port: config.http.port } });
      // Listen for signals before saying "started": a supervisor may signal as soon as it reads the line.
      const stopped = untilSignal(async () => {
        await worker.close();
        clients.destroy();
        logger.info("worker stopped");
        logger.flush();
      }, logger);
      logger.info(
        { queue: config.queues.requests, concurrency: config.worker.concurrency, region: config.region, httpPort: worker.httpPort },
        "worker started (metrics on /metrics, probes on /healthz and /readyz)",
      );
      await stopped;
    });
}
