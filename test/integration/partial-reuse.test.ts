import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeRequest, type Pipeline, startPipeline } from "../support/pipeline.ts";
import { repoRoot } from "../support/run-cli.ts";

let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

const CHANGED = ["sentiment_polarity", "sarcasm"];

/** A prompts dir whose product-feedback v2 uses the same template but rewrites two dimensions' definitions. */
function promptsWithChangedDefinitions(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "labelq-prompts-"));
  const src = path.join(repoRoot, "prompts", "product-feedback");
  const dst = path.join(dir, "product-feedback");
  fs.mkdirSync(dst);
  fs.copyFileSync(path.join(src, "v1.md"), path.join(dst, "v1.md"));
  const taxonomy = JSON.parse(fs.readFileSync(path.join(src, "taxonomy.json"), "utf8")) as { dimensions: { key: string; definition: string }[] };
  fs.writeFileSync(path.join(dst, "taxonomy.json"), JSON.stringify(taxonomy));
  for (const d of taxonomy.dimensions) if (CHANGED.includes(d.key)) d.definition += " Judge the author's overall stance, not single phrases.";
  fs.writeFileSync(path.join(dst, "taxonomy.v2.json"), JSON.stringify(taxonomy));
  fs.writeFileSync(
    path.join(dst, "manifest.json"),
    JSON.stringify({
      versions: { v1: { template: "v1.md" }, v2: { template: "v1.md", taxonomy: "taxonomy.v2.json" } },
      aliases: { prod: "v1" },
    }),
  );
  return dir;
}

describe("a new prompt version that changes some dimensions' definitions", () => {
  it("re-asks cached texts only for the changed dimensions and takes the rest from the cache", async () => {
    pipeline = await startPipeline({ env: { LABELQ_PROMPTS_DIR: promptsWithChangedDefinitions() } });
    pipeline.startWorker();
    // 12 texts: one Llama 3.3 call within its 2,048-token output cap.
    const first = makeRequest(12, { promptVersion: "v1" });
    await pipeline.send(first);
    const [v1] = await pipeline.results(1);
    expect(v1?.usage.modelCalls).toBe(1);

    await pipeline.send({ ...makeRequest(12, { promptVersion: "v2" }), items: first.items });
    const [v2] = await pipeline.results(1);
    expect(v2?.promptVersion).toBe("v2");
    expect(v2?.status).toBe("completed");
    expect(v2?.usage.modelCalls).toBe(1);
    expect(v2?.usage.cacheHits).toBe(0);
    for (const [n, item] of (v2?.items ?? []).entries()) {
      const before = v1?.items[n]?.labels ?? {};
      expect(Object.keys(item.labels ?? {})).toEqual(Object.keys(before));
      for (const [key, value] of Object.entries(item.labels ?? {})) {
        if (!CHANGED.includes(key)) expect(value, key).toEqual(before[key]);
      }
    }
    // The second call carried only the two changed definitions and asked for two keys per text.
    const saved = (v1!.usage.inputTokens + v1!.usage.outputTokens) / (v2!.usage.inputTokens + v2!.usage.outputTokens);
    expect(v2!.usage.inputTokens).toBeLessThan(v1!.usage.inputTokens / 3);
    expect(v2!.usage.outputTokens).toBeLessThan(v1!.usage.outputTokens / 3);
    expect(saved).toBeGreaterThan(3);

    // A third request under v2 is served from the cache entirely.
    await pipeline.send({ ...makeRequest(12, { promptVersion: "v2" }), items: first.items });
    const [again] = await pipeline.results(1);
    expect(again?.usage.modelCalls).toBe(0);
    expect(again?.usage.cacheHits).toBe(12);
    expect(again?.items.map((i) => i.labels)).toEqual(v2?.items.map((i) => i.labels));
    console.log(
      `partial re-ask: v1 cold ${v1!.usage.inputTokens}+${v1!.usage.outputTokens} tokens, v2 (2 of 25 dimensions changed) ${v2!.usage.inputTokens}+${v2!.usage.outputTokens} tokens (${saved.toFixed(1)}x fewer)`,
    );
  });
});
