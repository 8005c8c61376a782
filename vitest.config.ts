import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // A backstop only: waits carry their own named safety net (test/support/until.ts, 120 s), under this.
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: "forks",
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
