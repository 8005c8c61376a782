import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/core/config/config.ts";
import { configFrom, endpointOverridden } from "../../src/cli/config-from-flags.ts";

describe("endpointOverridden", () => {
  it("is false for real AWS (no endpoint override), so no placeholder credentials are set", () => {
    expect(endpointOverridden(loadConfig({}))).toBe(false);
  });

  it("is true when any endpoint override points the clients elsewhere", () => {
    expect(endpointOverridden(loadConfig({ AWS_ENDPOINT_URL: "http://localhost:4566" }))).toBe(true);
    expect(endpointOverridden(loadConfig({ AWS_ENDPOINT_URL_BEDROCK_RUNTIME: "http://localhost:7000" }))).toBe(true);
  });
});

describe("configFrom", () => {
  it("reads a flag as the variable of the same setting, numbers included, and skips flags not given", () => {
    const config = configFrom({ LABELQ_CONCURRENCY: 5, LABELQ_DEFAULT_TAXONOMY: "support", LABELQ_HTTP_PORT: undefined });
    expect(config.worker.concurrency).toBe(5);
    expect(config.prompts.defaultTaxonomy).toBe("support");
    expect(config.http.port).toBe(loadConfig(process.env).http.port);
  });

  it("lets a LOG_LEVEL flag beat the caller's default log level", () => {
    expect(configFrom({ LOG_LEVEL: "error" }, { logLevel: "warn" }).log.level).toBe("error");
  });
});
