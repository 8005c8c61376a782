import { afterEach, describe, expect, it } from "vitest";
import { createAwsClients } from "../../src/adapters/aws-clients.ts";
import { loadConfig } from "../../src/core/config/config.ts";
import { createEvalCore, type EvalCore } from "../../src/app/eval/eval-core.ts";
import { silentLogger } from "../support/fakes.ts";

const cores: EvalCore[] = [];
afterEach(async () => {
  await Promise.all(cores.splice(0).map((c) => c.close()));
});

/** The eval core a `labelq eval` with this environment would build. */
function evalCore(env: Record<string, string>, cache = false): EvalCore {
  const config = loadConfig({ LABELQ_CACHE_TABLE: "labelq-cache", ...env });
  const core = createEvalCore(config, createAwsClients(config), silentLogger(), { cache });
  cores.push(core);
  return core;
}

describe("createEvalCore: the worker's labelling core, for evaluation", () => {
  it("uses the catalogue the configuration names: AWS_REGION picks the inference-profile geography", () => {
    const { settings } = evalCore({ AWS_REGION: "eu-west-1", LABELQ_DEFAULT_MODEL: "claude-haiku", LABELQ_FALLBACK_MODELS: "none" });
    expect(settings.catalogue?.geography).toBe("eu");
    expect(settings.catalogue?.find("claude-haiku")?.modelId).toBe("eu.anthropic.claude-haiku-4-5-20251001-v1:0");
  });

  it("lets every catalogue model be chosen, whatever LABELQ_ALLOWED_MODELS says", () => {
    const { settings } = evalCore({ LABELQ_ALLOWED_MODELS: "llama3.3-70b" });
    expect(settings.allowedModels).toEqual(settings.catalogue?.models.map((m) => m.alias));
    expect(settings.allowedModels).toContain("claude-sonnet");
  });

  it("attaches the label cache only when asked, and records no canary shadow agreement", () => {
    expect(evalCore({}).deps.cache).toBeUndefined();
    expect(evalCore({ LABELQ_BATCHES_TABLE: "labelq-batches" }).deps.shadow).toBeUndefined();
    expect(evalCore({}, true).deps.cache).toBeDefined();
  });
});
