import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { cacheKey, normalizeText } from "../../src/core/cache/cache-key.ts";

const scope = { taxonomy: "product-feedback", context: "sha256:ctx", modelId: "us.meta.llama3-3-70b-instruct-v1:0", inference: { temperature: 0.5, topP: 0.9 } };

describe("cacheKey", () => {
  it("covers the answer format: the same text under lines and JSON has two keys", () => {
    expect(cacheKey("Nice kettle", { ...scope, format: "lines" })).not.toBe(cacheKey("Nice kettle", { ...scope, format: "json" }));
  });

  it("keeps the JSON format's keys as they were before formats existed, so its cached labels stay valid", () => {
    const before = createHash("sha256")
      .update(JSON.stringify([normalizeText("Nice kettle"), scope.taxonomy, scope.context, scope.modelId, 0.5, 0.9]))
      .digest("base64url");
    expect(cacheKey("Nice kettle", { ...scope, format: "json" })).toBe(before);
  });

  it("is the same for texts that differ only in whitespace and Unicode form", () => {
    expect(cacheKey("  Nice\n kettle ", { ...scope, format: "lines" })).toBe(cacheKey("Nice kettle", { ...scope, format: "lines" }));
  });
});
