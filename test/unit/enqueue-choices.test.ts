import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { checkEnqueueChoices } from "../../src/cli/check-enqueue-choices.ts";
import { InvalidRequestError } from "../../src/core/errors/errors.ts";
import { DEFAULT_CATALOGUE } from "../../src/core/models/model-registry.ts";
import { PromptRegistry } from "../../src/core/prompts/prompt-registry.ts";
import { rejection } from "../support/fakes.ts";

const promptsDir = path.resolve(import.meta.dirname, "../../prompts");
const config = {
  models: { default: "llama3.3-70b", allowed: ["claude-haiku"], fallbacks: [] },
  prompts: { dir: promptsDir, defaultTaxonomy: "product-feedback", defaultVersion: "prod" },
};

describe("enqueue checks what it names before sending", () => {
  it("accepts the default and allow-listed models, a known taxonomy and version, and nothing named", async () => {
    await checkEnqueueChoices({}, config, DEFAULT_CATALOGUE);
    await checkEnqueueChoices({ model: "claude-haiku", taxonomy: "product-feedback", promptVersion: "prod" }, config, DEFAULT_CATALOGUE);
  });

  it("tells a model labelq does not know from one this configuration does not allow", async () => {
    const unknown = await rejection(checkEnqueueChoices({ model: "gpt-x" }, config, DEFAULT_CATALOGUE));
    expect(unknown).toBeInstanceOf(InvalidRequestError);
    expect((unknown as Error).message).toMatch(/^--model "gpt-x" is not a model labelq knows \(known: .*llama3\.3-70b/);
    const notAllowed = await rejection(checkEnqueueChoices({ model: "claude-sonnet" }, config, DEFAULT_CATALOGUE));
    expect((notAllowed as InvalidRequestError).code).toBe("MODEL_NOT_ALLOWED");
    expect((notAllowed as Error).message).toMatch(/^--model "claude-sonnet" is not allowed by this configuration .*llama3\.3-70b, claude-haiku.*--no-check/);
  });

  it("refuses a service tier the model (named, or the default) does not offer", async () => {
    const lacking = await rejection(checkEnqueueChoices({ tier: "flex" }, config, DEFAULT_CATALOGUE));
    expect((lacking as InvalidRequestError).code).toBe("TIER_NOT_OFFERED");
    expect((lacking as Error).message).toMatch(/^--tier flex: llama3\.3-70b does not offer it/);
    await checkEnqueueChoices({ tier: "flex", model: "qwen3-32b" }, { ...config, models: { ...config.models, allowed: ["qwen3-32b"] } }, DEFAULT_CATALOGUE);
  });

  it("refuses an unknown taxonomy or prompt version, naming the prompts directory it looked in", async () => {
    const taxonomy = await rejection(checkEnqueueChoices({ taxonomy: "no-such-taxonomy" }, config, DEFAULT_CATALOGUE));
    expect((taxonomy as InvalidRequestError).code).toBe("TAXONOMY_NOT_FOUND");
    expect((taxonomy as Error).message).toContain(`Unknown taxonomy "no-such-taxonomy"`);
    expect((taxonomy as Error).message).toContain(promptsDir);
    const version = await rejection(checkEnqueueChoices({ promptVersion: "v999" }, config, DEFAULT_CATALOGUE));
    expect((version as InvalidRequestError).code).toBe("PROMPT_VERSION_NOT_FOUND");
    expect((version as Error).message).toMatch(/no prompt version or alias "v999"/);
  });
});

describe("TAXONOMY_NOT_FOUND as a worker reports it", () => {
  it("names the taxonomy but no file path of the worker", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "labelq-prompts-"));
    try {
      const error = await rejection(new PromptRegistry(dir).resolve("no-such-taxonomy", "prod"));
      expect((error as InvalidRequestError).code).toBe("TAXONOMY_NOT_FOUND");
      expect((error as Error).message).toBe('Unknown taxonomy "no-such-taxonomy": the prompts directory has no such taxonomy');
      expect((error as Error).message).not.toContain(dir);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
