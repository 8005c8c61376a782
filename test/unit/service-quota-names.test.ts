import { describe, expect, it } from "vitest";
import { idKindOf, matchModelQuotas, perMinuteNames } from "../../src/core/quota/service-quota-names.ts";
import { loadModelCatalogue } from "../../src/core/models/model-catalogue.ts";

// Names as Service Quotas lists them for Bedrock (https://docs.aws.amazon.com/bedrock/latest/userguide/quotas.html),
// written out here rather than built by the code under test.
const LISTED = [
  { name: "On-demand model inference tokens per minute for Amazon Nova Lite", value: 2_000_000 },
  { name: "On-demand model inference requests per minute for Amazon Nova Lite", value: 2_000 },
  { name: "Cross-region model inference tokens per minute for Amazon Nova Lite", value: 4_000_000 },
  { name: "Cross-region model inference requests per minute for Amazon Nova Lite", value: 4_000 },
  { name: "Model invocation max tokens per day for Amazon Nova Lite (doubled for cross-region calls)", value: 5_760_000_000 },
  { name: "On-demand model inference tokens per minute for Amazon Nova Lite V2", value: 1 },
  { name: "Cross-region model inference tokens per minute for Anthropic Claude Sonnet 4.5 V1", value: 200_000 },
  { name: "Global cross-region model inference tokens per minute for Anthropic Claude Sonnet 4.5 V1", value: 300_000 },
  { name: "Global cross-region model inference requests per minute for Anthropic Claude Sonnet 4.5 V1", value: 250 },
  { name: "Global cross-region model inference tokens per day for Anthropic Claude Sonnet 4.5 V1", value: 432_000_000 },
  { name: "Model invocation max tokens per day for Anthropic Claude Sonnet 4.5 V1 (doubled for cross-region calls)", value: 144_000_000 },
];

describe("Bedrock quota names", () => {
  it("reads the on-demand quotas for an in-Region id and the cross-Region ones for a geographic profile", () => {
    expect(matchModelQuotas(LISTED, "Amazon Nova Lite", "inRegion")).toEqual({ tpm: 2_000_000, rpm: 2_000, tpd: 5_760_000_000 });
    expect(matchModelQuotas(LISTED, "Amazon Nova Lite", "us")).toEqual({ tpm: 4_000_000, rpm: 4_000, tpd: 5_760_000_000 });
  });

  it("reads a global profile's own quotas, its own daily quota over the model's general one", () => {
    expect(matchModelQuotas(LISTED, "Anthropic Claude Sonnet 4.5 V1", "global")).toEqual({ tpm: 300_000, rpm: 250, tpd: 432_000_000 });
    expect(matchModelQuotas(LISTED, "Anthropic Claude Sonnet 4.5 V1", "us")).toEqual({ tpm: 200_000, tpd: 144_000_000 });
  });

  it("does not take another model whose name starts the same, nor a model the account lists nothing for", () => {
    expect(matchModelQuotas(LISTED, "Amazon Nova", "inRegion")).toEqual({});
    expect(matchModelQuotas(LISTED, "Amazon Nova Micro", "us")).toEqual({});
  });

  it("names the per-minute quotas as AWS writes them", () => {
    expect(perMinuteNames("Qwen3 32B V1", "inRegion")).toEqual({
      tpm: "On-demand model inference tokens per minute for Qwen3 32B V1",
      rpm: "On-demand model inference requests per minute for Qwen3 32B V1",
    });
  });

  it("tells a model id's kind by its prefix, profile ARNs included", () => {
    expect(idKindOf("amazon.nova-lite-v1:0")).toBe("inRegion");
    expect(idKindOf("eu.amazon.nova-lite-v1:0")).toBe("eu");
    expect(idKindOf("global.anthropic.claude-sonnet-4-5-20250929-v1:0")).toBe("global");
    expect(idKindOf("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0")).toBe("us");
    expect(idKindOf("jp.anthropic.claude-haiku-4-5-20251001-v1:0")).not.toBe("inRegion");
  });

  it("has the catalogue's quota names for models whose Service Quotas name differs from their display name", () => {
    const catalogue = loadModelCatalogue({ geography: "us", region: "us-east-1" });
    expect(catalogue.find("claude-sonnet")?.quotaName).toBe("Anthropic Claude Sonnet 4.5 V1");
    expect(catalogue.find("llama4-scout")?.quotaName).toBe("Meta Llama 4 Scout V1");
    expect(catalogue.find("nova-lite")?.quotaName).toBe("Amazon Nova Lite");
  });
});
