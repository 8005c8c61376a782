import os from "node:os";
import path from "node:path";
import { defineConfig } from "vitest/config";
import { LongestFirstSequencer } from "./test/support/sequencer.ts";

// V8's compile cache for every Node process the run starts (the test forks, and the `labelq`
// processes the CLI tests spawn with this environment): each would otherwise compile the same
// AWS SDK and labelq modules again, seconds of CPU per process on a 2-core machine.
process.env.NODE_COMPILE_CACHE ??= path.join(os.tmpdir(), "labelq-node-compile-cache");

export default defineConfig({
  test: {
    // A backstop only: waits carry their own named safety net (test/support/until.ts, 120 s), under this.
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Most integration files spend their time waiting (long polls, model latency, quota
    // windows), not computing: three files at a time keep a 2-core machine busy where the default
    // (cores - 1: one file at a time) leaves it mostly idle. Not more: the CLI files are CPU-bound
    // (each `labelq` process compiles and loads the SDKs), and their child processes have
    // bounded safety nets. Every file has queues, tables and an emulator of its own.
    maxWorkers: 3,
    // The longest integration files start first (and --sequence.shuffle still shuffles by its seed).
    sequence: { sequencer: LongestFirstSequencer },
    // The JSON report lets .ci/run print a plain "N passed, N failed" line.
    reporters: ["default", ["json", { outputFile: "out/vitest-report.json" }]],
    projects: [
      // Unit tests: the project's own code with in-memory fakes of its interfaces; no network.
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      // The Bedrock emulator package's own tests (packages/bedrock-emulator): the test double against Bedrock's documented behaviour.
      { extends: true, test: { name: "bedrock-emulator", include: ["packages/bedrock-emulator/test/**/*.test.ts"] } },
      // Integration tests: real protocols. The SQS/DynamoDB target is chosen once for the run.
      { extends: true, test: { name: "integration", include: ["test/integration/**/*.test.ts"], globalSetup: ["test/support/global-setup.ts"] } },
    ],
  },
});
