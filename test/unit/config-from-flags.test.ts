import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/core/config/config.ts";
import { endpointOverridden } from "../../src/cli/config-from-flags.ts";

describe("endpointOverridden", () => {
  it("is false for real AWS (no endpoint override), so no placeholder credentials are set", () => {
    expect(endpointOverridden(loadConfig({}))).toBe(false);
  });

  it("is true when any endpoint override points the clients elsewhere", () => {
    expect(endpointOverridden(loadConfig({ AWS_ENDPOINT_URL: "http://localhost:4566" }))).toBe(true);
    expect(endpointOverridden(loadConfig({ AWS_ENDPOINT_URL_BEDROCK_RUNTIME: "http://localhost:7000" }))).toBe(true);
  });
});
