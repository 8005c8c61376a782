import { test as base } from "vitest";
import { type Pipeline, type PipelineOptions, startPipeline } from "./pipeline.ts";
import { killProcess, startWorkerProcess, type WorkerProcess } from "./worker-process.ts";

/** What an integration test may ask for; everything it starts is stopped after it. */
export interface IntegrationFixtures {
  /** Start a pipeline: fresh queues and tables with random names, a Bedrock emulator (test double). */
  pipeline: (options?: PipelineOptions) => Promise<Pipeline>;
  /** Start `labelq worker` in a child process; killed after the test if still running. */
  workerProcess: (env: Record<string, string>, options?: { logLevel?: string }) => WorkerProcess;
}

/** `it` for integration tests, with the fixtures above. */
export const it = base.extend<IntegrationFixtures>({
  // eslint-disable-next-line no-empty-pattern -- vitest reads fixture dependencies from this pattern
  pipeline: async ({}, use) => {
    const started: Pipeline[] = [];
    await use(async (options) => {
      const p = await startPipeline(options);
      started.push(p);
      return p;
    });
    for (const p of started) await p.close();
  },
  // Depends on the pipeline so that its processes are killed before the queues they use are deleted.
  workerProcess: async ({ pipeline }, use) => {
    void pipeline;
    const started: WorkerProcess[] = [];
    await use((env, options) => {
      const w = startWorkerProcess(env, options);
      started.push(w);
      return w;
    });
    for (const w of started) await killProcess(w.child);
  },
});
